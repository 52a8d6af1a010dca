// lib.js: what every console browser driver shares (tests/console/*.js):
// the environment the shell passes, TAP-ish output lines ("ok|not ok<TAB>
// text", "diag<TAB>text", "value<TAB>name<TAB>json"), Debian's chromium
// launched through puppeteer-core, pages that record console errors and
// dialogs, login through the form, axe-core, screenshots.  No checks of
// any one page live here.
'use strict';
const fs = require('fs');
const path = require('path');
const puppeteer = require('puppeteer-core');

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(k + ' not set'); return v; };
const A = env('ADMIN_URL');
const PW = env('CONSOLE_PW');
const SHOTS = env('SHOTS');
const AXE = fs.readFileSync(env('AXE_JS'), 'utf8');

const out = (...f) => console.log(f.join('\t'));
const ok = (cond, desc) => out(cond ? 'ok' : 'not ok', desc);
const diag = (s) => out('diag', s);
const value = (k, v) => out('value', k, JSON.stringify(v));

const state = { sandboxOff: false };
async function launch() {
	const base = { executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
		args: ['--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'] };
	try {
		return await puppeteer.launch(base);
	} catch (e) {
		// The test sandbox may forbid the user namespaces chromium's own
		// sandbox needs; only then, and only here, run without it.
		diag('chromium would not start with its sandbox (' + e.message.split('\n')[0] + '): retrying with --no-sandbox');
		state.sandboxOff = true;
		return puppeteer.launch(Object.assign({}, base, { args: base.args.concat(['--no-sandbox']) }));
	}
}

// A page that records console errors, uncaught exceptions, failed requests
// and dialogs (which it dismisses: a dialog means injected script ran).
async function watched(ctx, who) {
	const page = await ctx.newPage();
	page.problems = [];
	page.dialogs = [];
	page.on('console', (m) => { if (m.type() === 'error') page.problems.push(who + ': console: ' + m.text()); });
	page.on('pageerror', (e) => page.problems.push(who + ': exception: ' + e.message));
	page.on('response', (r) => { if (r.status() >= 400) page.problems.push(who + ': HTTP ' + r.status() + ' ' + r.url()); });
	page.on('dialog', async (d) => { page.dialogs.push(d.message()); await d.dismiss(); });
	await page.setViewport({ width: 1200, height: 900 });
	return page;
}

const settle = (page) => page.waitForNetworkIdle({ idleTime: 200, timeout: 10000 }).catch(() => null);
async function visit(page, url) {
	await page.goto(A + url, { waitUntil: 'networkidle0' });
	await settle(page);
}
async function shot(page, name) {
	const f = path.join(SHOTS, name + '.png');
	await page.screenshot({ path: f, fullPage: true });
	return f;
}

async function axeCheck(page, name) {
	// Runtime.evaluate is not subject to the page's CSP: axe runs without
	// weakening the policy the page is tested under.
	await page.evaluate(AXE);
	const r = await page.evaluate(async () => {
		const res = await window.axe.run(document, { resultTypes: ['violations'] });
		return res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
			.map((v) => v.id + ' (' + v.impact + '): ' + v.nodes.map((n) => n.target.join(' ')).join(', '));
	});
	ok(r.length === 0, 'axe: no serious or critical violation on ' + name);
	for (const v of r)
		diag('  ' + v);
}

async function login(ctx, name, who) {
	const page = await watched(ctx, who || name);
	await visit(page, '/ui/login.html');
	await page.type('#name', name);
	await page.type('#password', PW);
	await Promise.all([page.waitForNavigation({ waitUntil: 'networkidle0' }), page.click('button[type=submit]')]);
	await settle(page);
	return page;
}

const cells = (page, sel) => page.$$eval(sel, (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));

// fetch from the page with the session (and its CSRF token for writes).
const call = (page, method, url, body, ctype) => page.evaluate(async (m, u, b, ct) => {
	const s = await (await fetch('/ui/session')).json();
	const h = { 'X-CSRF-Token': s.csrf };
	if (ct)
		h['Content-Type'] = ct;
	const r = await fetch(u, { method: m, headers: h, body: b === null ? undefined : b });
	return { status: r.status, body: await r.text() };
}, method, url, body === undefined ? null : body, ctype || null);

module.exports = { env, A, PW, SHOTS, out, ok, diag, value, state, launch, watched, settle, visit, shot, axeCheck,
	login, cells, call };
