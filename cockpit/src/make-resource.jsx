import React, { useState } from "react";
import {
    Alert, Button, Checkbox, Form, FormGroup, FormHelperText, FormSelect, FormSelectOption,
    HelperText, HelperTextItem, List, ListItem, Modal, ModalVariant, Radio, TextInput,
} from "@patternfly/react-core";

import { DEVICE, PCI, MANAGER, RESOURCE_GROUP, ROOT, describeError, rulesFor, ruleText } from "./hostdev.js";

const MANAGE = "org.hostdev1.manage-resource-groups";
const CLASSES = ["", "gpu", "nic", "storage", "usb", "audio", "accelerator", "other"];

/* The type MakeResource gives a group of these devices. */
function typeOf(devices) {
    if (devices.every(d => d[DEVICE].Kind === "usb"))
        return "usb";
    if (devices.every(d => d[PCI] && d[PCI].PhysicalFunction && d[PCI].PhysicalFunction !== "/"))
        return "sriov-nic";
    return "pci";
}

function guessClass(devices) {
    const d = devices[0];
    if (d[DEVICE].Kind === "usb")
        return "usb";
    const base = (d[PCI].Class >> 16) & 0xff;
    return { 0x03: "gpu", 0x02: "nic", 0x01: "storage", 0x04: "audio", 0x12: "accelerator" }[base] || "other";
}

/* Other members of the selected devices' IOMMU groups. */
function companionsOf(client, devices) {
    const chosen = new Set(devices.map(d => d.path));
    const out = [];
    for (const d of devices) {
        const g = client.iommuGroup(d[DEVICE].IommuGroup);
        for (const p of g ? g.Devices : [])
            if (!chosen.has(p) && !out.includes(p)) {
                const c = client.device(p);
                /* bridges stay with the host */
                if (c && !(c[PCI] && (c[PCI].Class >> 8) === 0x0604))
                    out.push(p);
            }
    }
    return out;
}

export function MakeResourceModal({ client, devices, onClose }) {
    const groups = client.resourceGroups();
    const [mode, setMode] = useState("new");
    const [existing, setExisting] = useState(groups.length ? groups[0].path : "");
    const [name, setName] = useState("");
    const [description, setDescription] = useState("");
    const [klass, setKlass] = useState(guessClass(devices));
    const companions = companionsOf(client, devices);
    const [withCompanions, setWithCompanions] = useState(companions.length > 0);
    const [error, setError] = useState(null);
    const [busy, setBusy] = useState(false);
    const [result, setResult] = useState(null);

    const type = typeOf(devices);
    const label = p => {
        const d = client.device(p);
        return d ? d[DEVICE].Address + " " + (d[DEVICE].ProductName || "") : p;
    };

    const submit = () => {
        setBusy(true);
        setError(null);
        let done;
        if (mode === "new") {
            const options = {};
            if (description)
                options.description = { t: "s", v: description };
            if (klass)
                options.class = { t: "s", v: klass };
            if (withCompanions && companions.length)
                options["include-companions"] = { t: "b", v: true };
            done = client.call(ROOT, MANAGER, "MakeResource", [devices.map(d => d.path), name, options])
                    .then(([group, left]) => ({ group, left }));
        } else {
            const group = client.resourceGroup(existing);
            const chosen = withCompanions ? devices.concat(companions.map(p => client.device(p)).filter(d => d)) : devices;
            const rules = group.Rules.concat(rulesFor(chosen));
            done = client.call(existing, RESOURCE_GROUP, "SetRules", [rules])
                    .then(() => ({ group: existing, left: withCompanions ? [] : companions }));
        }
        done
                .then(({ group, left }) =>
                    client.call(group, "org.freedesktop.DBus.Properties", "GetAll", [RESOURCE_GROUP])
                            .then(([props]) => setResult({
                                group,
                                name: props.Name.v,
                                rules: props.Rules.v,
                                devices: props.Devices.v,
                                left,
                            })))
                .catch(err => setError(describeError(err, MANAGE)))
                .finally(() => setBusy(false));
    };

    if (result) {
        return (
            <Modal id="make-resource-dialog" variant={ModalVariant.medium} isOpen onClose={onClose}
                   title={"Resource group " + result.name}
                   actions={[<Button key="close" id="make-resource-close" variant="primary" onClick={onClose}>Close</Button>]}>
                <Alert id="make-resource-done" variant="success" isInline
                       title={"Resource group " + result.name + " has " + result.devices.length + " device(s)"} />
                <p>Rules it finds its devices by:</p>
                <List id="make-resource-rules">
                    {result.rules.map((r, i) => <ListItem key={i}><code>{ruleText(r)}</code></ListItem>)}
                </List>
                {result.left.length > 0 &&
                    <Alert variant="info" isInline title="Devices in the same IOMMU groups, not in this group">
                        {result.left.map(label).join(", ")}: they must also leave the host before the group can be given to a VM.
                    </Alert>}
            </Modal>
        );
    }

    const valid = mode === "new" ? name.trim().length > 0 : !!existing;
    const critical = devices.map(d => client.device(d.path) || d).filter(d => d[DEVICE].Critical);
    return (
        <Modal id="make-resource-dialog" variant={ModalVariant.medium} isOpen onClose={onClose}
               title="Make resource"
               actions={[
                   <Button key="ok" id="make-resource-submit" variant="primary" isDisabled={!valid || busy}
                           isLoading={busy} onClick={submit}>
                       {mode === "new" ? "Create group" : "Add to group"}
                   </Button>,
                   <Button key="cancel" variant="link" onClick={onClose}>Cancel</Button>,
               ]}>
            {error && <Alert id="make-resource-error" variant="danger" isInline title={error.title}>{error.text}</Alert>}
            {critical.length > 0 &&
                <Alert id="make-resource-critical" variant="warning" isInline title="The host needs some of these devices">
                    {critical.map(d => d[DEVICE].Address + ": " + d[DEVICE].CriticalReasons.map(r => r[1]).join("; ")).join(". ")}.
                    {" "}hostdevd will refuse to prepare them.
                </Alert>}
            <Form isHorizontal onSubmit={e => { e.preventDefault(); if (valid) submit() }}>
                <FormGroup label="Devices" fieldId="make-resource-devices">
                    <List id="make-resource-devices">{devices.map(d => <ListItem key={d.path}>{label(d.path)}</ListItem>)}</List>
                </FormGroup>
                {companions.length > 0 &&
                    <FormGroup label="Companions" fieldId="make-resource-companions">
                        <Checkbox id="make-resource-companions" isChecked={withCompanions}
                                  onChange={(_e, v) => setWithCompanions(v)}
                                  label={"Include " + companions.map(label).join(", ")}
                                  description="They share an IOMMU group with the selected devices and go to a VM with them." />
                    </FormGroup>}
                <FormGroup role="radiogroup" label="Resource group" fieldId="make-resource-mode" isInline>
                    <Radio id="make-resource-new" name="mode" label="New group" isChecked={mode === "new"}
                           onChange={() => setMode("new")} />
                    <Radio id="make-resource-existing" name="mode" label="Existing group" isChecked={mode === "existing"}
                           isDisabled={groups.length === 0} onChange={() => setMode("existing")} />
                </FormGroup>
                {mode === "existing"
                    ? <FormGroup label="Group" fieldId="make-resource-group">
                        <FormSelect id="make-resource-group" value={existing} onChange={(_e, v) => setExisting(v)}>
                            {groups.map(g => <FormSelectOption key={g.path} value={g.path} label={g.Name + " (" + g.Type + ")"} />)}
                        </FormSelect>
                    </FormGroup>
                    : <>
                        <FormGroup label="Name" isRequired fieldId="make-resource-name">
                            <TextInput id="make-resource-name" value={name} onChange={(_e, v) => setName(v)} />
                        </FormGroup>
                        <FormGroup label="Type" fieldId="make-resource-type">
                            <FormSelect id="make-resource-type" value={type} isDisabled>
                                {["pci", "usb", "sriov-nic", "vgpu"].map(t => <FormSelectOption key={t} value={t} label={t} />)}
                            </FormSelect>
                            <FormHelperText><HelperText><HelperTextItem>Follows from the devices.</HelperTextItem></HelperText></FormHelperText>
                        </FormGroup>
                        <FormGroup label="Description" fieldId="make-resource-description">
                            <TextInput id="make-resource-description" value={description} onChange={(_e, v) => setDescription(v)} />
                        </FormGroup>
                        <FormGroup label="Class" fieldId="make-resource-class">
                            <FormSelect id="make-resource-class" value={klass} onChange={(_e, v) => setKlass(v)}>
                                {CLASSES.map(c => <FormSelectOption key={c} value={c} label={c || "(none)"} />)}
                            </FormSelect>
                        </FormGroup>
                    </>}
            </Form>
        </Modal>
    );
}
