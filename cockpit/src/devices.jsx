import React, { useState } from "react";
import {
    Button, DescriptionList, DescriptionListDescription, DescriptionListGroup, DescriptionListTerm,
    Label, LabelGroup, List, ListItem, SearchInput, Toolbar, ToolbarContent, ToolbarItem,
    Flex, FlexItem, Title,
} from "@patternfly/react-core";
import { Table, Thead, Tr, Th, Tbody, Td, ExpandableRowContent } from "@patternfly/react-table";

import { DEVICE, PCI, USB, SRIOV_PF, hex4 } from "./hostdev.js";

/* The columns: what each shows and how it sorts. */
const COLUMNS = [
    { title: "Address", key: d => d.address, sort: d => d.sortAddress },
    { title: "Vendor", key: d => d.vendor },
    { title: "Product", key: d => d.product },
    { title: "Class", key: d => d.className },
    { title: "Driver", key: d => d.driver },
    { title: "IOMMU group", key: d => d.iommuText, sort: d => d.iommu },
    { title: "NUMA node", key: d => d.numaText, sort: d => d.numa },
    { title: "State", key: d => d.state },
    { title: "Resource group", key: d => d.groupName },
];

function pad(n) {
    return String(n).padStart(10, "0");
}

/* One row's values, from the device's object. */
export function deviceRow(client, obj) {
    const dev = obj[DEVICE];
    const pci = obj[PCI];
    const group = client.iommuGroup(dev.IommuGroup);
    const rg = dev.ResourceGroup && dev.ResourceGroup !== "/" ? client.resourceGroup(dev.ResourceGroup) : null;
    const iommu = group ? group.Number : null;
    const isUsb = dev.Kind === "usb";
    return {
        path: obj.path,
        obj,
        address: dev.Address,
        /* PCI before USB, each in address order */
        sortAddress: (isUsb ? "1" : "0") + dev.Address.replace(/\d+/g, n => pad(parseInt(n, 10))),
        vendor: dev.VendorName || hex4(dev.VendorId),
        product: dev.ProductName || hex4(dev.ProductId),
        className: pci ? (pci.ClassName || "0x" + pci.Class.toString(16).padStart(6, "0")) : "USB device",
        driver: dev.Driver || "",
        iommu,
        iommuText: iommu === null ? "" : String(iommu),
        numa: dev.NumaNode,
        numaText: dev.NumaNode >= 0 ? String(dev.NumaNode) : "",
        state: dev.State,
        groupName: rg ? rg.Name : "",
        critical: dev.Critical,
        reasons: dev.CriticalReasons || [],
    };
}

function compare(a, b) {
    if (a === b)
        return 0;
    /* empty values (no group, unknown node) go last */
    if (a === null || a === undefined || a === "" || a < 0)
        return 1;
    if (b === null || b === undefined || b === "" || b < 0)
        return -1;
    if (typeof a === "number" && typeof b === "number")
        return a - b;
    return String(a).localeCompare(String(b));
}

export function DevicesView({ client, onMakeResource }) {
    const [filter, setFilter] = useState("");
    const [sortIndex, setSortIndex] = useState(0);
    const [direction, setDirection] = useState("asc");
    const [expanded, setExpanded] = useState({});
    const [selected, setSelected] = useState({});

    const all = client.devices().map(obj => deviceRow(client, obj));
    const words = filter.toLowerCase().split(/\s+/).filter(w => w);
    const rows = all.filter(r => {
        const text = COLUMNS.map(c => c.key(r)).join(" ").toLowerCase() +
            (r.critical ? " critical" : "");
        return words.every(w => text.includes(w));
    });
    const col = COLUMNS[sortIndex];
    const sortKey = col.sort || col.key;
    rows.sort((a, b) => {
        let c = compare(sortKey(a), sortKey(b));
        if (c === 0)
            c = compare(a.sortAddress, b.sortAddress);
        else if (direction === "desc")
            c = -c;
        return c;
    });

    const selectedRows = all.filter(r => selected[r.path]);
    const onSort = (_event, index, dir) => {
        setSortIndex(index);
        setDirection(dir);
    };

    return (
        <>
            <Toolbar id="devices-toolbar">
                <ToolbarContent>
                    <ToolbarItem variant="search-filter">
                        <SearchInput id="devices-filter" placeholder="Filter by address, name, driver…"
                                     value={filter} onChange={(_e, v) => setFilter(v)}
                                     onClear={() => setFilter("")} />
                    </ToolbarItem>
                    <ToolbarItem>
                        <Button id="make-resource" variant="primary" isDisabled={selectedRows.length === 0}
                                onClick={() => onMakeResource(selectedRows.map(r => r.obj), () => setSelected({}))}>
                            Make resource{selectedRows.length ? " (" + selectedRows.length + ")" : ""}
                        </Button>
                    </ToolbarItem>
                    <ToolbarItem variant="pagination">
                        <span id="devices-count">{rows.length} of {all.length} devices</span>
                    </ToolbarItem>
                </ToolbarContent>
            </Toolbar>
            <Table id="devices-table" aria-label="Host devices" variant="compact" isExpandable>
                <Thead>
                    <Tr>
                        <Th screenReaderText="Details" />
                        <Th screenReaderText="Select" />
                        {COLUMNS.map((c, i) =>
                            <Th key={c.title} data-column={c.title} modifier="wrap"
                                sort={{ sortBy: { index: sortIndex, direction }, onSort, columnIndex: i }}>
                                {c.title}
                            </Th>)}
                    </Tr>
                </Thead>
                {rows.map((r, rowIndex) => {
                    const isExpanded = !!expanded[r.path];
                    return (
                        <Tbody key={r.path} isExpanded={isExpanded}>
                            <Tr className="device-row" data-address={r.address} data-path={r.path}
                                data-critical={r.critical ? "true" : "false"}>
                                <Td expand={{
                                    rowIndex,
                                    isExpanded,
                                    onToggle: () => setExpanded({ ...expanded, [r.path]: !isExpanded })
                                }} />
                                <Td select={{
                                    rowIndex,
                                    isSelected: !!selected[r.path],
                                    onSelect: (_e, on) => setSelected({ ...selected, [r.path]: on }),
                                }} />
                                <Td dataLabel="Address">
                                    <span className="hostdev-address">{r.address}</span>
                                    {r.critical &&
                                        <Label className="critical-label" color="red" isCompact
                                               title={r.reasons.map(x => x[1]).join("\n")}>
                                            Critical: {r.reasons.map(x => x[0]).join(", ")}
                                        </Label>}
                                </Td>
                                <Td dataLabel="Vendor">{r.vendor}</Td>
                                <Td dataLabel="Product">{r.product}</Td>
                                <Td dataLabel="Class">{r.className}</Td>
                                <Td dataLabel="Driver">{r.driver}</Td>
                                <Td dataLabel="IOMMU group">{r.iommuText}</Td>
                                <Td dataLabel="NUMA node">{r.numaText}</Td>
                                <Td dataLabel="State">
                                    <Label color={r.state === "prepared" ? "blue" : "grey"} isCompact>{r.state}</Label>
                                </Td>
                                <Td dataLabel="Resource group">{r.groupName}</Td>
                            </Tr>
                            <Tr isExpanded={isExpanded} className="device-details-row">
                                <Td colSpan={COLUMNS.length + 2}>
                                    {isExpanded &&
                                        <ExpandableRowContent>
                                            <DeviceDetails client={client} row={r} />
                                        </ExpandableRowContent>}
                                </Td>
                            </Tr>
                        </Tbody>
                    );
                })}
            </Table>
        </>
    );
}

function show(value) {
    if (Array.isArray(value))
        return value.length ? value.map(v => Array.isArray(v) ? v.join(": ") : String(v)).join(", ") : "—";
    if (typeof value === "boolean")
        return value ? "yes" : "no";
    if (value === "" || value === undefined || value === null)
        return "—";
    return String(value);
}

const HEX_PROPS = { VendorId: 4, ProductId: 4, SubsystemVendorId: 4, SubsystemId: 4, Class: 6 };

function Properties({ title, props }) {
    return (
        <FlexItem>
            <Title headingLevel="h4">{title}</Title>
            <DescriptionList isCompact isHorizontal>
                {Object.keys(props).sort().map(name => {
                    let v = props[name];
                    if (name in HEX_PROPS)
                        v = "0x" + Number(v).toString(16).padStart(HEX_PROPS[name], "0");
                    return (
                        <DescriptionListGroup key={name}>
                            <DescriptionListTerm>{name}</DescriptionListTerm>
                            <DescriptionListDescription data-property={name}>{show(v)}</DescriptionListDescription>
                        </DescriptionListGroup>
                    );
                })}
            </DescriptionList>
        </FlexItem>
    );
}

function DeviceDetails({ client, row }) {
    const obj = client.device(row.path) || row.obj;
    const dev = obj[DEVICE];
    const group = client.iommuGroup(dev.IommuGroup);
    const name = p => {
        const d = client.device(p);
        return d ? d[DEVICE].Address + " " + (d[DEVICE].ProductName || "") : p;
    };
    return (
        <Flex className="device-details" data-address={dev.Address} alignItems={{ default: "alignItemsFlexStart" }}>
            <FlexItem className="device-iommu" style={{ maxWidth: "48ch" }}>
                <Title headingLevel="h4">Host needs it</Title>
                {dev.Critical
                    ? <List className="critical-reasons">
                        {dev.CriticalReasons.map(([code, text]) => <ListItem key={code + text}><b>{code}</b>: {text}</ListItem>)}
                    </List>
                    : <p>No.</p>}
                <Title headingLevel="h4">IOMMU group {group ? group.Number : "—"}</Title>
                {group
                    ? <>
                        <p className="iommu-viable">
                            {group.Viable
                                ? <Label color="green">viable: it can be given to a VM</Label>
                                : <Label color="orange">not viable</Label>}
                        </p>
                        <LabelGroup categoryName="Members" numLabels={16}>
                            {group.Devices.map(p => <Label key={p} isCompact>{name(p)}</Label>)}
                        </LabelGroup>
                        {group.Blockers.length > 0 && <p>What keeps it from a VM:</p>}
                        {group.Blockers.length > 0 &&
                            <List className="iommu-blockers">
                                {group.Blockers.map(([p, why]) => <ListItem key={p}>{name(p)}: {why}</ListItem>)}
                            </List>}
                    </>
                    : <p>This device is in no IOMMU group; it cannot be passed through with VFIO.</p>}
            </FlexItem>
            <Properties title="Device" props={dev} />
            {obj[PCI] && <Properties title="PCI" props={obj[PCI]} />}
            {obj[USB] && <Properties title="USB" props={obj[USB]} />}
            {obj[SRIOV_PF] && <Properties title="SR-IOV" props={obj[SRIOV_PF]} />}
        </Flex>
    );
}
