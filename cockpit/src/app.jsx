import React, { useEffect, useReducer, useRef, useState } from "react";
import {
    Alert, Card, CardBody, CardTitle, DescriptionList, DescriptionListDescription, DescriptionListGroup,
    DescriptionListTerm, EmptyState, EmptyStateHeader, Label, List, ListItem, Page, PageSection,
    Spinner, Tab, Tabs, TabTitleText,
} from "@patternfly/react-core";

import { HostdevClient, DEVICE, describeError } from "./hostdev.js";
import { DevicesView } from "./devices.jsx";
import { GroupsView } from "./groups.jsx";
import { MakeResourceModal } from "./make-resource.jsx";

function subjectName(client, subject) {
    const d = client.device(subject);
    if (d)
        return d[DEVICE].Address;
    return subject === "/org/hostdev1" ? "host" : subject;
}

function RebootBanner({ client }) {
    const m = client.manager();
    if (!m || !m.RebootRequired)
        return null;
    return (
        <Alert id="reboot-banner" variant="warning" isInline title="This host needs a reboot">
            <List>
                {(m.RebootReasons || []).map(([subject, why], i) =>
                    <ListItem key={i}><b>{subjectName(client, subject)}</b>: {why}</ListItem>)}
            </List>
        </Alert>
    );
}

function StatusView({ client }) {
    const m = client.manager();
    if (!m)
        return null;
    const critical = (m.Critical || []).map(p => client.device(p)).filter(d => d)
            .sort((a, b) => a[DEVICE].Address.localeCompare(b[DEVICE].Address));
    return (
        <Card id="host-status">
            <CardTitle>Host</CardTitle>
            <CardBody>
                <DescriptionList isHorizontal>
                    <DescriptionListGroup>
                        <DescriptionListTerm>IOMMU</DescriptionListTerm>
                        <DescriptionListDescription id="status-iommu">
                            {m.IommuEnabled
                                ? <Label color="green">on</Label>
                                : <><Label color="red">off</Label> {m.IommuMessage}</>}
                        </DescriptionListDescription>
                    </DescriptionListGroup>
                    <DescriptionListGroup>
                        <DescriptionListTerm>Prepared devices</DescriptionListTerm>
                        <DescriptionListDescription id="status-converged">
                            {m.Converged
                                ? <Label color="green">converged: every recorded binding is in place</Label>
                                : <><Label color="orange">not converged</Label>
                                    <List id="converge-problems">
                                        {(m.ConvergeProblems || []).map(([a, why]) => <ListItem key={a}><b>{a}</b>: {why}</ListItem>)}
                                    </List></>}
                        </DescriptionListDescription>
                    </DescriptionListGroup>
                    <DescriptionListGroup>
                        <DescriptionListTerm>Reboot</DescriptionListTerm>
                        <DescriptionListDescription id="status-reboot">
                            {m.RebootRequired ? <Label color="orange">required</Label> : <Label color="green">not needed</Label>}
                        </DescriptionListDescription>
                    </DescriptionListGroup>
                    <DescriptionListGroup>
                        <DescriptionListTerm>Devices the host needs</DescriptionListTerm>
                        <DescriptionListDescription id="status-critical">
                            <List isPlain>
                                {critical.map(d =>
                                    <ListItem key={d.path}>
                                        <b>{d[DEVICE].Address}</b> {d[DEVICE].ProductName}: {d[DEVICE].CriticalReasons.map(r => r[1]).join("; ")}
                                    </ListItem>)}
                            </List>
                        </DescriptionListDescription>
                    </DescriptionListGroup>
                    <DescriptionListGroup>
                        <DescriptionListTerm>hostdevd</DescriptionListTerm>
                        <DescriptionListDescription>{m.Version}</DescriptionListDescription>
                    </DescriptionListGroup>
                </DescriptionList>
            </CardBody>
        </Card>
    );
}

export function App() {
    const [, render] = useReducer(x => x + 1, 0);
    const client = useRef(null);
    const [tab, setTab] = useState("devices");
    const [making, setMaking] = useState(null);

    if (!client.current)
        client.current = new HostdevClient(render);
    useEffect(() => () => client.current.close(), []);
    const c = client.current;

    if (!c.ready)
        return (
            <EmptyState id="loading">
                <EmptyStateHeader titleText="Loading devices" icon={<Spinner />} headingLevel="h2" />
            </EmptyState>
        );
    const error = c.error ? describeError(c.error) : null;

    return (
        <Page id="hostdev-page" data-ready="true">
            <PageSection variant="light" padding={{ default: "noPadding" }}>
                {error && <Alert id="page-error" variant="danger" isInline title={error.title}>{error.text}</Alert>}
                <RebootBanner client={c} />
            </PageSection>
            <PageSection variant="light" type="tabs">
                <Tabs activeKey={tab} onSelect={(_e, k) => setTab(k)} aria-label="Views">
                    <Tab eventKey="devices" id="tab-devices" title={<TabTitleText>Devices</TabTitleText>} />
                    <Tab eventKey="groups" id="tab-groups" title={<TabTitleText>Resource groups</TabTitleText>} />
                    <Tab eventKey="status" id="tab-status" title={<TabTitleText>Host status</TabTitleText>} />
                </Tabs>
            </PageSection>
            <PageSection id={"view-" + tab}>
                {tab === "devices" &&
                    <DevicesView client={c} onMakeResource={(devices, clear) => setMaking({ devices, clear })} />}
                {tab === "groups" && <GroupsView client={c} />}
                {tab === "status" && <StatusView client={c} />}
            </PageSection>
            {making &&
                <MakeResourceModal client={c} devices={making.devices}
                                   onClose={() => { making.clear(); setMaking(null) }} />}
        </Page>
    );
}
