import React, { useEffect, useState } from "react";
import {
    Alert, Button, EmptyState, EmptyStateBody, EmptyStateHeader, Flex, FlexItem, FormSelect,
    FormSelectOption, Label, List, ListItem, Modal, ModalVariant, TextInput, Title,
} from "@patternfly/react-core";
import { Table, Thead, Tr, Th, Tbody, Td, ExpandableRowContent } from "@patternfly/react-table";

import { DEVICE, RESOURCE_GROUP, describeError, ruleText } from "./hostdev.js";

const MANAGE = "org.hostdev1.manage-resource-groups";
const PREPARE = "org.hostdev1.prepare-devices";

/* Rule fields and their D-Bus types (org.hostdev1.ResourceGroup.Rules). */
const FIELDS = {
    "vendor-id": "q", "product-id": "q", "subsystem-vendor-id": "q", "subsystem-id": "q",
    class: "u", "class-mask": "u", "vendor-name": "s", "product-name": "s", address: "s",
    slot: "s", serial: "s", driver: "s", "numa-node": "i", "physical-function": "s", "port-path": "s",
    "vf-index": "s", "pf-serial": "s", "pf-netdev": "s", "link-type": "s",
    "mdev-type": "s", "mdev-type-name": "s",
};

/* "10de" for ids and "0x030000" for classes, as people write them. */
function parseField(field, text) {
    const t = FIELDS[field];
    text = text.trim();
    if (t === "s")
        return { t, v: text };
    const v = (t === "q" || /^0x/i.test(text)) ? parseInt(text.replace(/^0x/i, ""), 16) : parseInt(text, 10);
    if (Number.isNaN(v))
        return null;
    return { t, v };
}

function RuleEditor({ group, onError }) {
    const [field, setField] = useState("vendor-id");
    const [value, setValue] = useState("");
    const setRules = rules => group.call("SetRules", [rules]).catch(err => onError(describeError(err, MANAGE)));
    const add = () => {
        const v = parseField(field, value);
        if (!v) {
            onError({ title: "Invalid input", text: field + " needs a number" });
            return;
        }
        setRules(group.Rules.concat([{ [field]: v }])).then(() => setValue(""));
    };
    return (
        <div className="group-rules">
            <Title headingLevel="h4">Rules (a device joins when any rule matches)</Title>
            <List isPlain>
                {group.Rules.map((r, i) =>
                    <ListItem key={i} className="group-rule">
                        <code>{ruleText(r)}</code>{" "}
                        <Button variant="link" isInline className="remove-rule"
                                onClick={() => setRules(group.Rules.filter((_, j) => j !== i))}>
                            Remove
                        </Button>
                    </ListItem>)}
            </List>
            <Flex>
                <FlexItem>
                    <FormSelect aria-label="Rule field" className="rule-field" value={field} onChange={(_e, v) => setField(v)}>
                        {Object.keys(FIELDS).map(f => <FormSelectOption key={f} value={f} label={f} />)}
                    </FormSelect>
                </FlexItem>
                <FlexItem>
                    <TextInput aria-label="Rule value" className="rule-value" value={value} onChange={(_e, v) => setValue(v)} />
                </FlexItem>
                <FlexItem>
                    <Button variant="secondary" className="add-rule" isDisabled={!value.trim()} onClick={add}>Add rule</Button>
                </FlexItem>
            </Flex>
        </div>
    );
}

/* Since is in microseconds since the epoch */
function sinceText(since) {
    const ms = Number(since) / 1000;
    return ms > 0 ? new Date(ms).toLocaleString() : "";
}

/* The claims on a group: who holds which members since when, and until
 * what (the lease). Shown only when there are some. */
function ClaimsList({ claims, name }) {
    return (
        <div className="group-claims">
            <Title headingLevel="h4">Claims</Title>
            <Table aria-label="Claims" variant="compact" className="group-claims-table">
                <Thead><Tr><Th>Consumer</Th><Th>Claim</Th><Th>Devices</Th><Th>Since</Th><Th>Lease</Th></Tr></Thead>
                <Tbody>
                    {claims.map(c =>
                        <Tr key={c.path} className="group-claim" data-consumer={c.Consumer} data-id={c.Id}>
                            <Td dataLabel="Consumer" className="claim-consumer">{c.Consumer}</Td>
                            <Td dataLabel="Claim" className="claim-id">{c.Id}</Td>
                            <Td dataLabel="Devices" className="claim-devices">
                                {(c.Devices || []).map(p => <Label key={p} isCompact className="claim-device">{name(p)}</Label>)}
                            </Td>
                            <Td dataLabel="Since" className="claim-since">{sinceText(c.Since)}</Td>
                            <Td dataLabel="Lease" className="claim-lease">{c.Lease || "none"}</Td>
                        </Tr>)}
                </Tbody>
            </Table>
        </div>
    );
}

/* Prepare or Release: the dry-run plan first, then the real call once the
 * user confirms it. */
export function PlanModal({ group, method, onClose }) {
    const [plan, setPlan] = useState(null);
    const [error, setError] = useState(null);
    const [busy, setBusy] = useState(false);
    const [done, setDone] = useState(false);

    useEffect(() => {
        group.call(method, [{ "dry-run": { t: "b", v: true } }])
                .then(([p]) => setPlan(p))
                .catch(err => setError(describeError(err, PREPARE)));
    }, []); /* once, when the dialog opens */
    const run = () => {
        setBusy(true);
        setError(null);
        group.call(method, [{}])
                .then(([p]) => { setPlan(p); setDone(true) })
                .catch(err => setError(describeError(err, PREPARE)))
                .finally(() => setBusy(false));
    };
    const verb = method === "Prepare" ? "Prepare" : "Release";
    return (
        <Modal id="plan-dialog" variant={ModalVariant.medium} isOpen onClose={onClose}
               title={verb + " " + group.Name}
               actions={done
                   ? [<Button key="close" id="plan-close" variant="primary" onClick={onClose}>Close</Button>]
                   : [<Button key="ok" id="plan-confirm" variant={method === "Prepare" ? "warning" : "primary"}
                              isDisabled={!plan || busy} isLoading={busy} onClick={run}>{verb}</Button>,
                      <Button key="cancel" variant="link" onClick={onClose}>Cancel</Button>]}>
            {error && <Alert id="plan-error" variant="danger" isInline title={error.title}>{error.text}</Alert>}
            {done && <Alert id="plan-done" variant="success" isInline title={verb + " done"} />}
            {!done && plan && <p>{plan.length ? "This will change these drivers:" : "Nothing needs to change."}</p>}
            {plan && plan.length > 0 &&
                <Table id="plan-table" aria-label="Plan" variant="compact">
                    <Thead><Tr><Th>Device</Th><Th>From</Th><Th>To</Th><Th>Why</Th></Tr></Thead>
                    <Tbody>
                        {plan.map(([address, from, to, why]) =>
                            <Tr key={address} data-address={address}>
                                <Td dataLabel="Device">{address}</Td>
                                <Td dataLabel="From">{from || "(none)"}</Td>
                                <Td dataLabel="To">{to || "(none)"}</Td>
                                <Td dataLabel="Why">{why}</Td>
                            </Tr>)}
                    </Tbody>
                </Table>}
        </Modal>
    );
}

export function GroupsView({ client }) {
    const [expanded, setExpanded] = useState({});
    const [plan, setPlan] = useState(null);
    const [error, setError] = useState(null);
    const [deleting, setDeleting] = useState(null);
    const groups = client.resourceGroups().sort((a, b) => a.Name.localeCompare(b.Name));
    const bind = g => ({ ...g, call: (method, args) => client.call(g.path, RESOURCE_GROUP, method, args) });
    const name = p => {
        const d = client.device(p);
        return d ? d[DEVICE].Address + " " + (d[DEVICE].ProductName || "") + " (" + d[DEVICE].State + ")" : p;
    };

    if (groups.length === 0)
        return (
            <EmptyState id="groups-empty">
                <EmptyStateHeader titleText="No resource groups" headingLevel="h3" />
                <EmptyStateBody>Select devices on the Devices tab and choose Make resource.</EmptyStateBody>
            </EmptyState>
        );

    return (
        <>
            {error && <Alert id="groups-error" variant="danger" isInline title={error.title}
                             actionClose={<Button variant="plain" onClick={() => setError(null)}>×</Button>}>{error.text}</Alert>}
            <Table id="groups-table" aria-label="Resource groups" variant="compact" isExpandable>
                <Thead>
                    <Tr>
                        <Th screenReaderText="Details" />
                        <Th>Name</Th><Th>Type</Th><Th>Class</Th><Th>Description</Th>
                        <Th>Total</Th><Th>Available</Th><Th>Claimed</Th><Th screenReaderText="Actions" />
                    </Tr>
                </Thead>
                {groups.map((g, rowIndex) => {
                    const isExpanded = expanded[g.path] !== false;
                    const claims = client.claims(g.path);
                    return (
                        <Tbody key={g.path} isExpanded={isExpanded}>
                            <Tr className="group-row" data-name={g.Name} data-path={g.path}>
                                <Td expand={{ rowIndex, isExpanded, onToggle: () => setExpanded({ ...expanded, [g.path]: !isExpanded }) }} />
                                <Td dataLabel="Name">{g.Name}</Td>
                                <Td dataLabel="Type">{g.Type}</Td>
                                <Td dataLabel="Class">{g.Class}</Td>
                                <Td dataLabel="Description">{g.Description}</Td>
                                <Td dataLabel="Total">{g.Total}</Td>
                                <Td dataLabel="Available" className="group-available">{g.Available}</Td>
                                <Td dataLabel="Claimed" className="group-claimed">{g.Claimed ?? 0}</Td>
                                <Td isActionCell modifier="nowrap">
                                    <Button variant="secondary" className="group-prepare" isDisabled={!g.Total}
                                            onClick={() => setPlan({ group: bind(g), method: "Prepare" })}>Prepare</Button>{" "}
                                    <Button variant="secondary" className="group-release" isDisabled={!g.Total}
                                            onClick={() => setPlan({ group: bind(g), method: "Release" })}>Release</Button>{" "}
                                    <Button variant="link" isDanger className="group-delete"
                                            onClick={() => setDeleting(bind(g))}>
                                        Delete
                                    </Button>
                                </Td>
                            </Tr>
                            <Tr isExpanded={isExpanded}>
                                <Td colSpan={9}>
                                    <ExpandableRowContent>
                                        <Flex alignItems={{ default: "alignItemsFlexStart" }}>
                                            <FlexItem>
                                                <Title headingLevel="h4">Members</Title>
                                                {g.Devices.length
                                                    ? <List isPlain className="group-members">
                                                        {g.Devices.map(p => <ListItem key={p}><Label isCompact>{name(p)}</Label></ListItem>)}
                                                    </List>
                                                    : <p>No device matches its rules now.</p>}
                                            </FlexItem>
                                            <FlexItem>
                                                <RuleEditor group={bind(g)} onError={setError} />
                                            </FlexItem>
                                        </Flex>
                                        {claims.length > 0 && <ClaimsList claims={claims} name={name} />}
                                    </ExpandableRowContent>
                                </Td>
                            </Tr>
                        </Tbody>
                    );
                })}
            </Table>
            {plan && <PlanModal group={plan.group} method={plan.method} onClose={() => setPlan(null)} />}
            {deleting &&
                <Modal id="delete-dialog" variant={ModalVariant.small} isOpen onClose={() => setDeleting(null)}
                       title={"Delete " + deleting.Name + "?"} titleIconVariant="warning"
                       actions={[
                           <Button key="ok" id="delete-confirm" variant="danger"
                                   onClick={() => {
                                       deleting.call("Delete", [{}]).catch(err => setError(describeError(err, MANAGE)));
                                       setDeleting(null);
                                   }}>Delete</Button>,
                           <Button key="cancel" variant="link" onClick={() => setDeleting(null)}>Cancel</Button>,
                       ]}>
                    Its {deleting.Total} device(s) become free; drivers stay as they are.
                </Modal>}
        </>
    );
}
