// browse.js: drives Debian's chromium through the web console for
// tests/t/96-console.sh and prints one line per check ("ok|not ok<TAB>
// description", "diag<TAB>text", "value<TAB>name<TAB>json") for the shell
// to turn into TAP.  It only looks and clicks; the shell owns the data
// and the expectations it compares with the API and the database.
'use strict';
const { A, PW, env, out, ok, diag, state, launch, watched, settle, visit, shot, axeCheck, login, cells } = require('./lib.js');

const HOSTILE = JSON.parse(env('HOSTILE'));          // strings that must show as text
const MAC_ACME = env('MAC_ACME'), MAC_OTHER = env('MAC_OTHER'), MAC_HOSTILE = env('MAC_HOSTILE');

// Nothing hostile became markup: no element a payload would create, and
// every payload present on the page is present as text.
async function noInjection(page, name) {
	const r = await page.evaluate((hostile) => {
		const scripts = [...document.scripts].map((s) => s.src).filter((s) => !/\/ui\/(app|login|device-ops)\.js$/.test(s));
		const imgs = document.querySelectorAll('img, svg, iframe, object, embed').length;
		const text = document.body.innerText;
		return { scripts, imgs, shown: hostile.filter((h) => text.includes(h)) };
	}, HOSTILE);
	ok(r.scripts.length === 0 && r.imgs === 0 && page.dialogs.length === 0,
		name + ': no script, img, svg or iframe element injected, no dialog (' + JSON.stringify({ ...r, dialogs: page.dialogs }) + ')');
	return r.shown;
}

async function main() {
	const browser = await launch();
	diag('chromium ' + (await browser.version()) + ', puppeteer-core ' + require('puppeteer-core/package.json').version +
		', axe-core ' + require('axe-core/package.json').version + (state.sandboxOff ? ', --no-sandbox' : ''));
	const root = await browser.createBrowserContext();

	// ---- login page ----
	let page = await watched(root, 'login');
	await visit(page, '/ui/login.html');
	await shot(page, '01-login');
	await axeCheck(page, 'the login page');
	await page.type('#name', 'root');
	await page.type('#password', 'not-the-password');
	await page.click('button[type=submit]');
	await page.waitForFunction(() => document.getElementById('error').textContent !== '', { timeout: 5000 });
	ok((await page.$eval('#error', (e) => e.textContent)) === 'unknown user or wrong password',
		'a wrong password: the login page says so');
	const loginPage = page;     // its problems are counted with the admin's, below
	await page.close();

	page = await login(root, 'root', 'root');
	ok(page.url() === A + '/ui/', 'log in through the form: the overview (' + page.url() + ')');
	ok((await page.$eval('#who', (e) => e.textContent)) === 'root (admin)', 'the header names the user and role');

	// ---- overview ----
	await page.select('#tenant', 'acme');
	await page.waitForFunction(() => document.querySelector('#states [data-count]'));
	await settle(page);
	const counts = await page.evaluate(() => {
		const o = { total: Number(document.getElementById('total').textContent) };
		for (const box of ['states', 'registrations', 'drift']) {
			o[box] = {};
			for (const dd of document.querySelectorAll('#' + box + ' dd[data-count]'))
				o[box][dd.dataset.count] = Number(dd.querySelector('.num').textContent);
		}
		return o;
	});
	counts.served24 = await page.$$eval('#fetches-24h td[data-served]', (c) => c.reduce((a, x) => a + Number(x.textContent), 0));
	counts.rows24 = await page.$$eval('#fetches-24h tbody tr', (r) => r.length);
	counts.served7d = await page.$$eval('#fetches-7d td[data-served]', (c) => c.reduce((a, x) => a + Number(x.textContent), 0));
	const sum = (sel) => page.$$eval(sel, (c) => c.reduce((a, x) => a + Number(x.textContent), 0));
	counts.reg24 = [await sum('#regs-24h td[data-registered]'), await sum('#regs-24h td[data-failed]')];
	counts.reg7d = [await sum('#regs-7d td[data-registered]'), await sum('#regs-7d td[data-failed]')];
	counts.regrows = [await page.$$eval('#regs-24h tbody tr', (r) => r.length), await page.$$eval('#regs-7d tbody tr', (r) => r.length)];
	out('value', 'overview_acme', JSON.stringify(counts));
	await shot(page, '02-overview');
	await axeCheck(page, 'the overview');

	// ---- device list: search by user, hostile values ----
	await visit(page, '/ui/devices.html?tenant=acme');
	await page.type('#q', env('FIND_USER'));
	await page.click('#filter button[type=submit]');
	await settle(page);
	const found = await cells(page, '#devices tbody tr');
	out('value', 'find_user', JSON.stringify(found.map((r) => r[0])));
	await shot(page, '03-devices-search');
	await page.$eval('#q', (e) => { e.value = ''; });
	await page.click('#filter button[type=submit]');
	await settle(page);
	await shot(page, '04-devices');
	await axeCheck(page, 'the device list');
	let shown = await noInjection(page, 'device list');
	ok(shown.length >= 2, 'device list: the hostile label and display name show as text (' + shown.length + ' of ' + HOSTILE.length + ')');
	// Paging: 25 a page; the shell made more than that in tenant acme.
	const first = await cells(page, '#devices tbody tr');
	await page.click('#next');
	await settle(page);
	const second = await cells(page, '#devices tbody tr');
	out('value', 'pages', JSON.stringify([first.length, second.length, await page.$eval('#count', (e) => e.textContent)]));
	ok(second.length > 0 && !second.some((r) => first.some((f) => f[0] === r[0])), 'the next page shows other devices');

	// ---- device page ----
	await visit(page, '/ui/device.html?mac=' + MAC_HOSTILE);
	await page.waitForFunction(() => document.querySelector('#summary dt'));
	await shot(page, '05-device');
	await axeCheck(page, 'the device page');
	shown = await noInjection(page, 'device page');
	ok(shown.length === HOSTILE.length, 'device page: label, display name, fetch and registration User-Agents all show as text (' +
		JSON.stringify(shown) + ')');
	out('value', 'timeline', JSON.stringify(await cells(page, '#fetches tbody tr')));
	const settings = await page.$eval('#settings', (e) => e.textContent);
	ok(!settings.includes(env('SECRET_SETTING')) && settings.includes('********'),
		'device page: a secret setting is masked');
	ok((await page.$$('#toggle')).length === 1, 'admin: the enable/disable button is there');

	// A write without the CSRF token, from the page's own origin and cookie.
	let st = await page.evaluate(async (mac) => (await fetch('/api/v1/devices/' + mac + '/disable',
		{ method: 'POST', credentials: 'same-origin' })).status, MAC_ACME);
	ok(st === 403, 'a write from the page without X-CSRF-Token is refused (' + st + ')');
	await visit(page, '/ui/device.html?mac=' + MAC_ACME);
	await page.waitForSelector('#toggle');
	await page.click('#toggle');
	await page.waitForFunction(() => document.getElementById('toggle').textContent === 'Enable device', { timeout: 5000 });
	ok(true, 'admin: Disable device clicked, the page now offers Enable');
	await shot(page, '06-device-disabled');
	// The wrong password's 401 and the CSRF-less write's 403 were the
	// point; filtered here, not as they happened: a 'response' event can
	// come after page.evaluate returns (CI under ASan reported "HTTP 403
	// .../disable" when the filter ran at once).
	const rootProblems = loginPage.problems.filter((p) => !/status of 401|HTTP 401 .*\/ui\/login$/.test(p))
		.concat(page.problems.filter((p) => !/status of 403|HTTP 403 .*\/(disable|enable)$/.test(p)));
	ok(rootProblems.length === 0, 'no console error or exception on any page (admin)');
	for (const p of rootProblems)
		diag('  ' + p);

	// ---- a tenant user ----
	const tctx = await browser.createBrowserContext();
	page = await login(tctx, 'acme-ops', 'acme-ops');
	const opts = await page.$$eval('#tenant option', (o) => o.map((x) => x.value));
	ok(JSON.stringify(opts) === '["acme"]', 'tenant user: the overview offers only its tenant (' + opts + ')');
	await visit(page, '/ui/devices.html');
	const seen = (await cells(page, '#devices tbody tr')).map((r) => r[0]);
	ok(!seen.includes(MAC_OTHER) && seen.length > 0, 'tenant user: the device list holds none of the other tenant');
	await visit(page, '/ui/device.html?mac=' + MAC_OTHER);
	const err = await page.$eval('#error', (e) => e.textContent);
	const dt = await page.$$('#summary dt');
	ok(/unknown device/.test(err) && dt.length === 0, 'tenant user: another tenant\'s device page shows nothing (' + err + ')');
	await shot(page, '07-tenant-other-device');
	st = await page.evaluate(async (mac) => (await fetch('/api/v1/devices/' + mac)).status, MAC_OTHER);
	ok(st === 404, 'tenant user: another tenant\'s device by request is 404 (' + st + ')');
	const tProblems = page.problems.filter((p) => !/status of 404|HTTP 404 .*0004f2990001$/.test(p));
	ok(tProblems.length === 0, 'no console error on the tenant user\'s pages but the expected 404s');
	for (const p of tProblems)
		diag('  ' + p);

	// ---- a read-only user, logging in with the keyboard alone ----
	const rctx = await browser.createBrowserContext();
	page = await watched(rctx, 'reader');
	await visit(page, '/ui/login.html');
	const focused = await page.evaluate(() => document.activeElement.id);
	await page.keyboard.type('reader');
	await page.keyboard.press('Tab');
	await page.keyboard.type(PW);
	await Promise.all([page.waitForNavigation({ waitUntil: 'networkidle0' }), page.keyboard.press('Enter')]);
	await settle(page);
	ok(focused === 'name' && page.url() === A + '/ui/', 'keyboard alone: focus starts in the name field, Tab, Enter logs in');
	// 200% zoom: a 1200 px window at zoom 2 lays out like a 600 px one.
	await page.setViewport({ width: 600, height: 900 });
	await visit(page, '/ui/devices.html');
	const wide = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
	await shot(page, '09-devices-200pct');
	ok(wide <= 0, 'at 200% zoom (600 px) the device list needs no sideways scrolling (' + wide + ' px over)');
	await page.setViewport({ width: 1200, height: 900 });
	await visit(page, '/ui/device.html?mac=' + MAC_ACME);
	await page.waitForFunction(() => document.querySelector('#summary dt'));
	ok((await page.$$('#toggle')).length === 0, 'read-only: no enable/disable button');
	await shot(page, '08-readonly-device');
	st = await page.evaluate(async (mac) => {
		const s = await (await fetch('/ui/session')).json();
		return (await fetch('/api/v1/devices/' + mac + '/enable',
			{ method: 'POST', headers: { 'X-CSRF-Token': s.csrf } })).status;
	}, MAC_ACME);
	ok(st === 403, 'read-only: the write, CSRF token and all, is refused (' + st + ')');
	const rProblems = page.problems.filter((p) => !/status of 403|HTTP 403 .*\/(disable|enable)$/.test(p));
	ok(rProblems.length === 0, 'no console error on the read-only user\'s pages but the expected 403');
	for (const p of rProblems)
		diag('  ' + p);

	// ---- logout ----
	await page.click('#logout');
	await page.waitForNavigation({ waitUntil: 'networkidle0' }).catch(() => null);
	ok(page.url() === A + '/ui/login.html', 'log out: back to the login page');
	st = await page.evaluate(async () => (await fetch('/api/v1/devices')).status);
	ok(st === 401, 'after logout the API refuses the browser (' + st + ')');
	await browser.close();
}

main().catch((e) => { out('not ok', 'browser run: ' + (e.stack || e)); process.exit(1); });
