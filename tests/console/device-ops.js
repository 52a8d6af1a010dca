// device-ops.js (test driver): drives Debian's chromium through the console
// device page's operations for tests/t/9b-console-device.sh: config preview
// masked, Reveal secrets (admin only), Diagnose against the Kamailio the
// shell started, the ticket and Copy.  Prints "ok|not ok<TAB>desc",
// "diag<TAB>text" and "value<TAB>name<TAB>json" lines; the shell holds the
// expectations it compares with the CLI and the database.
'use strict';
const { A, env, out, ok, diag, launch, watched, settle, visit, shot, axeCheck, login } = require('./lib.js');

const HOSTILE = JSON.parse(env('HOSTILE'));
const MAC = env('MAC_BAD'), SIP_PW = env('SIP_PW');

async function noInjection(page, name) {
	const r = await page.evaluate((hostile) => {
		const scripts = [...document.scripts].map((s) => s.src).filter((s) => !/\/ui\/(app|device-ops)\.js$/.test(s));
		const imgs = document.querySelectorAll('img, svg, iframe, object, embed').length;
		const text = document.body.innerText + document.getElementById('ticket').value;
		return { scripts, imgs, shown: hostile.filter((h) => text.includes(h)) };
	}, HOSTILE);
	ok(r.scripts.length === 0 && r.imgs === 0 && page.dialogs.length === 0,
		name + ': no script, img, svg or iframe element injected, no dialog (' + JSON.stringify({ ...r, dialogs: page.dialogs }) + ')');
	return r.shown;
}

async function main() {
	const browser = await launch();
	diag('chromium ' + (await browser.version()));
	const root = await browser.createBrowserContext();
	await root.overridePermissions(A, ['clipboard-read', 'clipboard-write', 'clipboard-sanitized-write']).catch(() => null);

	// ---- admin: preview, reveal, diagnose, ticket, copy ----
	let page = await login(root, 'root');
	await visit(page, '/ui/device.html?mac=' + MAC);
	await page.waitForFunction(() => document.getElementById('preview').textContent.length > 0, { timeout: 10000 });
	const masked = await page.$eval('#preview', (e) => e.textContent);
	out('value', 'preview_masked', JSON.stringify(masked));
	ok(!masked.includes(SIP_PW) && masked.includes('********'), 'preview: the SIP password is masked');
	ok((await page.$$('#reveal')).length === 1, 'admin: the Reveal secrets button is there');
	await page.click('#reveal');
	await page.waitForFunction((pw) => document.getElementById('preview').textContent.includes(pw), { timeout: 5000 }, SIP_PW)
		.catch(() => null);
	const revealed = await page.$eval('#preview', (e) => e.textContent);
	out('value', 'preview_revealed', JSON.stringify(revealed));
	ok(revealed.includes(SIP_PW), 'admin: Reveal secrets shows the password');
	await page.click('#reveal');
	await page.waitForFunction(() => !/Secrets shown/.test(document.getElementById('preview-note').textContent), { timeout: 5000 })
		.catch(() => null);
	ok(!(await page.$eval('#preview', (e) => e.textContent)).includes(SIP_PW), 'admin: Mask secrets hides it again');

	const t0 = Date.now();
	await page.click('#diagnose');
	await page.waitForFunction(() => !document.getElementById('diag-result').hidden, { timeout: 60000 });
	diag('diagnose took ' + (Date.now() - t0) + ' ms in the browser');
	const verdict = await page.$$eval('#verdict dd', (d) => d.map((x) => x.textContent));
	const steps = await page.$$eval('#steps tbody tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
	const ticket = await page.$eval('#ticket', (e) => e.value);
	out('value', 'verdict', JSON.stringify(verdict));
	out('value', 'steps', JSON.stringify(steps));
	out('value', 'ticket', JSON.stringify(ticket));
	ok(await page.$eval('#ticket', (e) => e.readOnly), 'the ticket is in a read-only textarea');
	await page.click('#copy');
	await page.waitForFunction(() => document.getElementById('copy-status').textContent !== '', { timeout: 5000 });
	const copied = await page.$eval('#copy-status', (e) => e.textContent);
	const clip = await page.evaluate(() => navigator.clipboard.readText().catch(() => null));
	ok(copied === 'Copied.' && (clip === null || clip === ticket), 'Copy ticket: copied (' + copied + (clip === null ? ', clipboard not readable here' : ', clipboard holds the ticket') + ')');
	await shot(page, '9b-device-diagnosed');
	await axeCheck(page, 'the device page after a diagnose');
	const shown = await noInjection(page, 'device page');
	ok(shown.length === HOSTILE.length, 'hostile label, display name and User-Agent all show as text (' + JSON.stringify(shown) + ')');
	ok(page.problems.length === 0, 'no console error, exception or failed request on the admin\'s page');
	for (const p of page.problems)
		diag('  ' + p);

	// ---- read-only: may diagnose, may not reveal ----
	const rctx = await browser.createBrowserContext();
	page = await login(rctx, 'reader');
	await visit(page, '/ui/device.html?mac=' + MAC);
	await page.waitForFunction(() => document.getElementById('preview').textContent.length > 0, { timeout: 10000 });
	ok((await page.$$('#reveal')).length === 0, 'read-only: no Reveal secrets button');
	ok(!(await page.$eval('#preview', (e) => e.textContent)).includes(SIP_PW), 'read-only: the preview is masked');
	ok((await page.$$('#diagnose')).length === 1, 'read-only: the Diagnose button is there (diagnose writes nothing)');
	const st = await page.evaluate(async (mac) => (await fetch('/api/v1/devices/' + mac + '/render?secrets=true')).status, MAC);
	ok(st === 403, 'read-only: asking for secrets by request is refused (' + st + ')');
	await shot(page, '9b-device-readonly');
	await axeCheck(page, 'the read-only device page');
	const rp = page.problems.filter((p) => !/HTTP 403 .*secrets=true$|status of 403/.test(p));
	ok(rp.length === 0, 'no console error on the read-only page but the expected 403');
	for (const p of rp)
		diag('  ' + p);
	await browser.close();
}

main().catch((e) => { out('not ok', 'browser run: ' + (e.stack || e)); process.exit(1); });
