/* The daemon's objects, kept current from its signals.
 *
 * One GetManagedObjects at start; after that only InterfacesAdded,
 * InterfacesRemoved and PropertiesChanged change the model (no polling).
 * The subscriptions are made before the call, so nothing that happens in
 * between is lost.
 */

/* global cockpit */

export const BUS_NAME = "org.hostdev1";
export const ROOT = "/org/hostdev1";
export const MANAGER = "org.hostdev1.Manager";
export const DEVICE = "org.hostdev1.Device";
export const PCI = "org.hostdev1.PciDevice";
export const USB = "org.hostdev1.UsbDevice";
export const IOMMU_GROUP = "org.hostdev1.IommuGroup";
export const RESOURCE_GROUP = "org.hostdev1.ResourceGroup";
export const SRIOV_PF = "org.hostdev1.SriovPhysicalFunction";
export const CLAIM = "org.hostdev1.Claim";
const OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager";
const PROPERTIES = "org.freedesktop.DBus.Properties";

/* Which polkit action guards what, as polkit/org.hostdev1.policy says. */
export const ACTIONS = {
    "org.hostdev1.manage-resource-groups": "manage resource groups",
    "org.hostdev1.prepare-devices": "prepare devices for passthrough and release them",
    "org.hostdev1.claim-devices": "claim devices for virtual machines",
    "org.hostdev1.override-critical": "act on a device the host depends on",
};

/* Variants in a{sv} keep their type, so that rules can be sent back as
 * they came; everything else is plain values. */
function plain(props) {
    const out = {};
    for (const name in props) {
        const v = props[name];
        out[name] = (v && typeof v === "object" && "t" in v && "v" in v) ? v.v : v;
    }
    return out;
}

export class HostdevClient {
    constructor(onChange) {
        this.onChange = onChange;
        this.objects = {};          /* path → { interface → { property → value } } */
        this.ready = false;
        this.error = null;
        this.client = cockpit.dbus(BUS_NAME, { bus: "system", superuser: "try" });
        this.subscriptions = [
            this.client.subscribe({ interface: OBJECT_MANAGER, member: "InterfacesAdded" },
                                  (path, iface, signal, args) => this.added(args[0], args[1])),
            this.client.subscribe({ interface: OBJECT_MANAGER, member: "InterfacesRemoved" },
                                  (path, iface, signal, args) => this.removed(args[0], args[1])),
            this.client.subscribe({ interface: PROPERTIES, member: "PropertiesChanged", path_namespace: ROOT },
                                  (path, iface, signal, args) => this.changed(path, args[0], args[1], args[2])),
        ];
        this.client.addEventListener("owner", (event, owner) => {
            /* hostdevd restarted or went away: start over from its objects
             * (the first owner seen is the one load() below reads) */
            const before = this.owner;
            this.owner = owner;
            if (owner && before !== undefined && owner !== before)
                this.load();
            else if (owner === null) {
                this.objects = {};
                this.error = { name: "", message: "The hostdev service (hostdevd) is not running." };
                this.notify();
            }
        });
        this.client.addEventListener("close", (event, options) => {
            this.error = { name: options.problem || "", message: "The connection to the system bus was closed (" + (options.problem || "closed") + ")." };
            this.notify();
        });
        this.load();
    }

    load() {
        /* GetManagedObjects lists the children, not the manager itself */
        Promise.all([
            this.client.call(ROOT, OBJECT_MANAGER, "GetManagedObjects", []),
            this.client.call(ROOT, PROPERTIES, "GetAll", [MANAGER]),
        ])
                .then(([[objects], [manager]]) => {
                    this.objects = {};
                    for (const path in objects)
                        this.added(path, objects[path], true);
                    this.added(ROOT, { [MANAGER]: manager }, true);
                    this.ready = true;
                    this.error = null;
                    this.notify();
                })
                .catch(err => {
                    this.ready = true;
                    this.error = err;
                    this.notify();
                });
    }

    notify() {
        /* one render for a burst of signals */
        if (this.pending)
            return;
        this.pending = window.requestAnimationFrame(() => {
            this.pending = null;
            this.onChange();
        });
    }

    added(path, interfaces, quiet) {
        const obj = this.objects[path] = { ...(this.objects[path] || {}) };
        for (const iface in interfaces)
            obj[iface] = { ...(obj[iface] || {}), ...plain(interfaces[iface]) };
        if (!quiet)
            this.notify();
    }

    removed(path, interfaces) {
        const obj = this.objects[path];
        if (!obj)
            return;
        const left = { ...obj };
        for (const iface of interfaces)
            delete left[iface];
        if (Object.keys(left).length === 0)
            delete this.objects[path];
        else
            this.objects[path] = left;
        this.notify();
    }

    changed(path, iface, values, invalidated) {
        const obj = this.objects[path];
        if (!obj || !obj[iface])
            return;
        this.objects[path] = { ...obj, [iface]: { ...obj[iface], ...plain(values) } };
        if (invalidated && invalidated.length)
            this.client.call(path, PROPERTIES, "GetAll", [iface])
                    .then(([all]) => this.changed(path, iface, all, []))
                    .catch(() => {});
        this.notify();
    }

    call(path, iface, method, args) {
        return this.client.call(path, iface, method, args);
    }

    close() {
        this.subscriptions.forEach(s => s.remove());
        this.client.close();
    }

    /* Views of the model ------------------------------------------------ */

    of(iface) {
        const out = [];
        for (const path in this.objects)
            if (this.objects[path][iface])
                out.push({ path, ...this.objects[path] });
        return out;
    }

    manager() {
        return (this.objects[ROOT] || {})[MANAGER] || null;
    }

    devices() {
        return this.of(DEVICE);
    }

    device(path) {
        const obj = this.objects[path];
        return obj && obj[DEVICE] ? { path, ...obj } : null;
    }

    iommuGroup(path) {
        const obj = this.objects[path];
        return obj ? obj[IOMMU_GROUP] || null : null;
    }

    resourceGroups() {
        return this.of(RESOURCE_GROUP).map(g => ({ path: g.path, ...g[RESOURCE_GROUP] }));
    }

    /* the claims on resource group `group` (its object path), oldest first */
    claims(group) {
        return this.of(CLAIM).map(c => ({ path: c.path, ...c[CLAIM] }))
                .filter(c => c.ResourceGroup === group)
                .sort((a, b) => (a.Since - b.Since) || a.Id.localeCompare(b.Id));
    }

    resourceGroup(path) {
        const obj = this.objects[path];
        return obj && obj[RESOURCE_GROUP] ? { path, ...obj[RESOURCE_GROUP] } : null;
    }
}

/* An error as a person reads it. A refusal names the permission that is
 * missing; the daemon's own errors carry their message. `action` is the
 * polkit action the call needed, for refusals whose message names none. */
export function describeError(err, action) {
    const name = (err && err.name) || "";
    const message = (err && (err.message || err.problem)) || String(err);
    if (name === "org.freedesktop.DBus.Error.AccessDenied" ||
        name === "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired" ||
        err?.problem === "access-denied" || err?.problem === "not-authorized") {
        const found = message.match(/org\.hostdev1\.[a-z-]+/);
        const id = found ? found[0] : action;
        const what = ACTIONS[id] || id || "do this";
        return {
            title: "Not permitted to " + what,
            text: "Your account lacks the permission to " + what +
                (id ? " (polkit action " + id + ")" : "") +
                ". Ask an administrator to grant it, or log in with administrative access. " +
                "hostdevd said: " + message,
        };
    }
    if (name.startsWith("org.hostdev1.Error.")) {
        const short = name.slice("org.hostdev1.Error.".length);
        const titles = {
            CriticalDevice: "The host needs this device",
            InvalidArgument: "Invalid input",
            NotFound: "Not found",
            Exists: "The name is taken",
            Busy: "A device is taken by another group",
            Failed: "The operation failed",
            NotSupported: "Not supported on this host",
        };
        return { title: titles[short] || short, text: message };
    }
    if (name === "org.freedesktop.DBus.Error.ServiceUnknown" || err?.problem === "not-found")
        return { title: "The hostdev service is not available", text: message };
    return { title: "Error", text: message };
}

export function hex4(n) {
    return (n ?? 0).toString(16).padStart(4, "0");
}

/* Rules that find the given devices again, as Manager.MakeResource makes
 * them (for adding devices to an existing group through SetRules). */
export function rulesFor(devices) {
    return devices.map(d => {
        const dev = d[DEVICE];
        const rule = {
            "vendor-id": { t: "q", v: dev.VendorId },
            "product-id": { t: "q", v: dev.ProductId },
        };
        if (dev.Serial)
            rule.serial = { t: "s", v: dev.Serial };
        else if (dev.Kind === "usb")
            rule["port-path"] = { t: "s", v: dev.Address };
        else if (d[PCI] && d[PCI].Slot && !(d[PCI].PhysicalFunction && d[PCI].PhysicalFunction !== "/"))
            rule.slot = { t: "s", v: d[PCI].Slot };
        else
            rule.address = { t: "s", v: dev.Address };
        if (dev.Kind === "pci" && !rule.address)
            rule.address = { t: "s", v: "*." + dev.Address.split(".").pop() };
        return rule;
    });
}

export function ruleText(rule) {
    return Object.keys(rule).sort().map(k => {
        const v = rule[k] && typeof rule[k] === "object" && "v" in rule[k] ? rule[k] : { t: "s", v: rule[k] };
        let text = String(v.v);
        if (v.t === "q")
            text = hex4(v.v);
        else if (k === "class" || k === "class-mask")
            text = "0x" + Number(v.v).toString(16).padStart(6, "0");
        return k + "=" + text;
    }).join(" ");
}
