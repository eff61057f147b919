/* The browser side of the browser suite: Chromium driven by puppeteer-core,
 * one step at a time as the Python story (test_cockpit.py) asks.
 *
 *     node browser.mjs URL SCREENSHOT_DIR
 *
 * Reads one JSON request a line on stdin ({"step": NAME, ...arguments}),
 * runs the step and answers with one JSON line on stdout: {"ok": true,
 * "value": …} or {"ok": false, "error": "…"}. Every check waits for the
 * page with waitForSelector or waitForFunction; nothing sleeps.
 *
 * puppeteer-core is found in the Cockpit package's node_modules
 * (HOSTDEV_NODE_MODULES), where `npm ci` put it.
 */

import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { createRequire } from "node:module";

const require = createRequire(path.join(process.env.HOSTDEV_NODE_MODULES, "noop.js"));
const puppeteer = require("puppeteer-core");

const [url, shots] = process.argv.slice(2);
const WAIT = 20000;  /* a loaded CI machine is slow; the issue's own bounds (2 s) are given per step */

const profile = fs.mkdtempSync(path.join(process.env.TMPDIR || "/tmp", "hostdev-chromium."));
const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    userDataDir: profile,
    args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-dev-shm-usage",
    ],
    defaultViewport: { width: 1440, height: 1100 },
});
const page = await browser.newPage();
const problems = [];
page.on("pageerror", err => problems.push("page error: " + err.message));
page.on("console", msg => {
    if (msg.type() === "error")
        problems.push("console error: " + msg.text());
});

/* "tr.device-row[data-address=…]" */
const row = address => `tr.device-row[data-address="${address}"]`;

async function click(selector) {
    const el = await page.waitForSelector(selector, { visible: true, timeout: WAIT });
    await el.click();
}

async function tab(name) {
    await click(`button[id^="pf-tab-${name}-"]`);
    await page.waitForSelector(`#view-${name}`, { timeout: WAIT });
}

async function setFilter(text) {
    const input = await page.waitForSelector("#devices-filter input", { visible: true, timeout: WAIT });
    await input.click({ clickCount: 3 });
    await page.keyboard.press("Backspace");
    if (text)
        await input.type(text);
}

/* The addresses in the table, top to bottom. */
function addressesInOrder() {
    return [...document.querySelectorAll("tr.device-row")].map(r => r.dataset.address);
}

const steps = {
    async open() {
        /* the first page load starts the bridge and parses the bundle:
         * slow on a loaded machine */
        await page.goto(url, { waitUntil: "domcontentloaded", timeout: 120000 });
        await page.waitForSelector("#hostdev-page[data-ready=true]", { timeout: 120000 });
        await page.waitForSelector("tr.device-row", { timeout: WAIT });
    },

    /* the table shows exactly these rows */
    async rows({ addresses }) {
        await page.waitForFunction(expected => {
            const shown = [...document.querySelectorAll("tr.device-row")].map(r => r.dataset.address).sort();
            return JSON.stringify(shown) === JSON.stringify(expected);
        }, { timeout: WAIT }, [...addresses].sort());
        return addresses.length;
    },

    async sort({ column, times }) {
        for (let i = 0; i < (times || 1); i++)
            await click(`th[data-column="${column}"] button`);
    },

    /* each list of addresses is adjacent in the table, in any order */
    async together({ sets }) {
        await page.waitForFunction(sets => {
            const order = [...document.querySelectorAll("tr.device-row")].map(r => r.dataset.address);
            return sets.every(set => {
                const at = set.map(a => order.indexOf(a)).sort((x, y) => x - y);
                return at[0] >= 0 && at[at.length - 1] - at[0] === set.length - 1;
            });
        }, { timeout: WAIT }, sets);
        return await page.evaluate(addressesInOrder);
    },

    /* a column reads in order (numbers ascending, empty cells last) */
    async ascending({ column }) {
        await page.waitForFunction(column => {
            const cells = [...document.querySelectorAll(`tr.device-row td[data-label="${column}"]`)].map(td => td.textContent);
            const filled = cells.filter(c => c !== "");
            const nums = filled.map(Number);
            const sorted = nums.every((n, i) => i === 0 || nums[i - 1] <= n);
            const emptyLast = cells.indexOf("") < 0 || cells.slice(cells.indexOf("")).every(c => c === "");
            return sorted && emptyLast;
        }, { timeout: WAIT }, column);
    },

    async critical({ address, reason }) {
        await page.waitForSelector(`${row(address)}[data-critical=true] .critical-label`, { timeout: WAIT });
        await page.waitForFunction((sel, reason) => document.querySelector(sel).textContent.includes(reason),
                                   { timeout: WAIT }, `${row(address)} .critical-label`, reason);
    },

    async notCritical({ address }) {
        await page.waitForSelector(`${row(address)}[data-critical=false]`, { timeout: WAIT });
    },

    async filter({ text, addresses }) {
        await setFilter(text);
        await steps.rows({ addresses });
    },

    async expand({ address, members }) {
        await click(`${row(address)} td.pf-v5-c-table__toggle button`);
        await page.waitForSelector(`.device-details[data-address="${address}"]`, { timeout: WAIT });
        await page.waitForFunction((address, members) => {
            const d = document.querySelector(`.device-details[data-address="${address}"]`);
            return members.every(m => d.textContent.includes(m)) && d.querySelector(".iommu-viable");
        }, { timeout: WAIT }, address, members);
    },

    async collapse({ address }) {
        await click(`${row(address)} td.pf-v5-c-table__toggle button`);
        await page.waitForFunction(address => !document.querySelector(`.device-details[data-address="${address}"]`),
                                   { timeout: WAIT }, address);
    },

    async cell({ address, column, text }) {
        await page.waitForFunction((sel, text) => {
            const td = document.querySelector(sel);
            return td && td.textContent === text;
        }, { timeout: WAIT }, `${row(address)} td[data-label="${column}"]`, text);
    },

    /* a row appears within `within` ms of the request */
    async appears({ address, within }) {
        const start = Date.now();
        await page.waitForSelector(row(address), { timeout: within });
        return Date.now() - start;
    },

    async gone({ address }) {
        await page.waitForFunction(sel => !document.querySelector(sel), { timeout: WAIT }, row(address));
    },

    /* select devices, Make resource, a new group called `name` */
    async makeResource({ addresses, name, description, klass }) {
        for (const a of addresses)
            await click(`${row(a)} td.pf-v5-c-table__check input`);
        await click("#make-resource:not([disabled])");
        await page.waitForSelector("#make-resource-dialog", { visible: true, timeout: WAIT });
        const input = await page.waitForSelector("#make-resource-name", { visible: true, timeout: WAIT });
        await input.type(name);
        if (description)
            await (await page.$("#make-resource-description")).type(description);
        if (klass)
            await page.select("#make-resource-class", klass);
    },

    /* select devices, Make resource, add them to the existing group at `path` */
    async makeResourceExisting({ addresses, path }) {
        for (const a of addresses)
            await click(`${row(a)} td.pf-v5-c-table__check input`);
        await click("#make-resource:not([disabled])");
        await click("#make-resource-existing:not([disabled])");
        await page.waitForSelector("#make-resource-group", { visible: true, timeout: WAIT });
        await page.select("#make-resource-group", path);
    },

    async submitMakeResource() {
        await click("#make-resource-submit:not([disabled])");
        await page.waitForSelector("#make-resource-done, #make-resource-error", { timeout: WAIT });
        if (await page.$("#make-resource-error"))
            throw new Error("Make resource failed: " + await page.$eval("#make-resource-error", e => e.textContent));
        return await page.$$eval("#make-resource-rules li", lis => lis.map(li => li.textContent));
    },

    async makeResourceRefused({ words }) {
        await click("#make-resource-submit:not([disabled])");
        await page.waitForSelector("#make-resource-error", { timeout: WAIT });
        await page.waitForFunction(words => {
            const text = document.querySelector("#make-resource-error").textContent;
            return words.every(w => text.includes(w));
        }, { timeout: WAIT }, words);
        return await page.$eval("#make-resource-error", e => e.textContent);
    },

    async closeDialog() {
        const sel = "#make-resource-close, #plan-close, #make-resource-dialog button[aria-label=Close], #plan-dialog button[aria-label=Close]";
        await click(sel);
        await page.waitForFunction(() => !document.querySelector("#make-resource-dialog, #plan-dialog"), { timeout: WAIT });
    },

    async tab({ name }) {
        await tab(name);
    },

    async group({ name, members }) {
        await page.waitForSelector(`tr.group-row[data-name="${name}"]`, { timeout: WAIT });
        await page.waitForFunction(members => {
            const text = [...document.querySelectorAll(".group-members")].map(e => e.textContent).join(" ");
            return members.every(m => text.includes(m));
        }, { timeout: WAIT }, members);
    },

    /* Prepare: the dry-run plan is shown; cancel or confirm */
    async preparePlan({ name, addresses }) {
        await click(`tr.group-row[data-name="${name}"] .group-prepare`);
        await page.waitForSelector("#plan-dialog #plan-table", { timeout: WAIT });
        await page.waitForFunction(addresses => {
            const shown = [...document.querySelectorAll("#plan-table tbody tr")].map(r => r.dataset.address);
            return addresses.every(a => shown.includes(a));
        }, { timeout: WAIT }, addresses);
    },

    async confirmPlan() {
        await click("#plan-confirm:not([disabled])");
        await page.waitForSelector("#plan-done, #plan-error", { timeout: 30000 });
        if (await page.$("#plan-error"))
            throw new Error("plan failed: " + await page.$eval("#plan-error", e => e.textContent));
    },

    async banner({ words }) {
        await page.waitForSelector("#reboot-banner", { timeout: WAIT });
        await page.waitForFunction(words => {
            const text = document.querySelector("#reboot-banner").textContent;
            return words.every(w => text.includes(w));
        }, { timeout: WAIT }, words);
    },

    async noBanner() {
        await page.waitForSelector("#hostdev-page[data-ready=true]", { timeout: WAIT });
        await page.waitForFunction(() => !document.querySelector("#reboot-banner"), { timeout: WAIT });
    },

    async status({ words }) {
        await page.waitForFunction(words => {
            const el = document.querySelector("#host-status");
            return el && words.every(w => el.textContent.includes(w));
        }, { timeout: WAIT }, words);
    },

    /* the page, or one element of it (scrolled into view) */
    async screenshot({ name, selector }) {
        /* wait for the fonts, so that the picture is what people see */
        await page.evaluate(() => document.fonts.ready);
        const file = path.join(shots, name + ".png");
        if (selector)
            await (await page.waitForSelector(selector, { timeout: WAIT })).screenshot({ path: file });
        else
            await page.screenshot({ path: file });
        return file;
    },

    /* remove the rule of group `name` whose text has all of `words` */
    async removeRule({ name, words, count }) {
        const group = `tbody:has(tr.group-row[data-name="${name}"])`;
        const button = await page.waitForFunction((group, words) => {
            const rule = [...document.querySelectorAll(`${group} .group-rule`)]
                    .find(r => words.every(w => r.textContent.includes(w)));
            return rule && rule.querySelector(".remove-rule");
        }, { timeout: WAIT }, group, words);
        await button.click();
        await page.waitForFunction((group, count) => document.querySelectorAll(`${group} .group-rule`).length === count,
                                   { timeout: WAIT }, group, count);
    },

    async addRule({ name, field, value, count }) {
        const group = `tbody:has(tr.group-row[data-name="${name}"])`;
        await page.select(`${group} select[aria-label="Rule field"]`, field);
        await (await page.waitForSelector(`${group} input[aria-label="Rule value"]`, { timeout: WAIT })).type(value);
        await click(`${group} .add-rule:not([disabled])`);
        await page.waitForFunction((group, count, text) => {
            const rules = [...document.querySelectorAll(`${group} .group-rule`)];
            return rules.length === count && rules.some(r => r.textContent.includes(text));
        }, { timeout: WAIT }, group, count, field + "=" + value);
    },

    /* the page inside Cockpit's shell: the menu entry and the page in
     * its frame */
    async shell({ shellUrl }) {
        await page.goto(shellUrl, { waitUntil: "domcontentloaded", timeout: 120000 });
        await page.waitForFunction(() => [...document.querySelectorAll("nav a, #host-apps a")]
                .some(a => a.textContent.trim() === "Host devices"), { timeout: 120000 });
        const frameEl = await page.waitForSelector('iframe[name$="/hostdev"]', { timeout: 120000 });
        const frame = await frameEl.contentFrame();
        await frame.waitForSelector("#hostdev-page[data-ready=true] tr.device-row", { timeout: 120000 });
    },

    async deleteGroup({ name }) {
        await click(`tr.group-row[data-name="${name}"] .group-delete`);
        await click("#delete-confirm");
        await page.waitForFunction(name => !document.querySelector(`tr.group-row[data-name="${name}"]`),
                                   { timeout: WAIT }, name);
    },

    /* group `name` shows these counts, and exactly these claim consumers
     * (each claim with `devices` addresses among its devices) */
    async claims({ name, total, available, claimed, consumers, devices }) {
        const group = `tbody:has(tr.group-row[data-name="${name}"])`;
        await page.waitForFunction((group, total, available, claimed, consumers, devices) => {
            const cell = c => document.querySelector(`${group} tr.group-row td[data-label="${c}"]`)?.textContent;
            if (cell("Total") !== String(total) || cell("Available") !== String(available) ||
                cell("Claimed") !== String(claimed))
                return false;
            const rows = [...document.querySelectorAll(`${group} tr.group-claim`)];
            const shown = rows.map(r => r.dataset.consumer).sort();
            if (JSON.stringify(shown) !== JSON.stringify(consumers))
                return false;
            return rows.every(r => r.querySelector(".claim-id").textContent !== "" &&
                r.querySelector(".claim-since").textContent !== "" &&
                devices.every(a => r.querySelector(".claim-devices").textContent.includes(a)));
        }, { timeout: WAIT }, group, total, available, claimed, [...consumers].sort(), devices || []);
    },

    /* the members listed for group `name` are exactly these addresses */
    async members({ name, addresses }) {
        const group = `tbody:has(tr.group-row[data-name="${name}"])`;
        await page.waitForFunction((group, addresses) => {
            const shown = [...document.querySelectorAll(`${group} .group-members li`)]
                    .map(li => li.textContent.split(" ")[0]).sort();
            return JSON.stringify(shown) === JSON.stringify(addresses);
        }, { timeout: WAIT }, group, [...addresses].sort());
    },

    async problems() {
        return problems;
    },
};

async function answer(line) {
    let request;
    try {
        request = JSON.parse(line);
        const fn = steps[request.step];
        if (!fn)
            throw new Error("no such step: " + request.step);
        const value = await fn(request);
        return { ok: true, value: value === undefined ? null : value };
    } catch (err) {
        let html = "";
        try {
            html = await page.$eval("#app", e => e.innerText.slice(0, 3000));
        } catch (_e) { /* the page may be gone */ }
        return { ok: false, error: String(err && err.stack || err), page: html, problems };
    }
}

const input = readline.createInterface({ input: process.stdin });
for await (const line of input) {
    if (!line.trim())
        continue;
    process.stdout.write(JSON.stringify(await answer(line)) + "\n");
}
await browser.close();
fs.rmSync(profile, { recursive: true, force: true });
