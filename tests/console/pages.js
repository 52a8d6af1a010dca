// pages.js: drives Debian's chromium through the console's templates,
// pending-devices and import pages for tests/t/9a-console-pages.sh and
// prints one line per check ("ok|not ok<TAB>description", "diag<TAB>text",
// "value<TAB>name<TAB>json") for the shell to turn into TAP.  It clicks and
// reads pages and the API as the logged-in user; the shell owns the data
// and compares the database.
'use strict';
const { A, env, out, ok, diag, value, launch, watched, settle, visit, shot, axeCheck, login, cells, call } = require('./lib.js');

const HOSTILE = JSON.parse(env('HOSTILE'));
const CLAIM_MAC = env('CLAIM_MAC'), BAD_CSV = env('BAD_CSV'), GOOD_CSV = env('GOOD_CSV');

// No element a payload would create, no dialog; which payloads show as text.
async function noInjection(page, name) {
	const r = await page.evaluate((hostile) => {
		const scripts = [...document.scripts].map((s) => s.src).filter((s) => !/\/ui\/(app|login|templates|pending|import)\.js$/.test(s));
		const imgs = document.querySelectorAll('img, svg, iframe, object, embed').length;
		const text = document.body.innerText + '\n' + [...document.querySelectorAll('textarea')].map((t) => t.value).join('\n');
		return { scripts, imgs, shown: hostile.filter((h) => text.includes(h)) };
	}, HOSTILE);
	ok(r.scripts.length === 0 && r.imgs === 0 && page.dialogs.length === 0,
		name + ': no script, img, svg or iframe element injected, no dialog (' + JSON.stringify({ ...r, dialogs: page.dialogs }) + ')');
	return r.shown;
}

const text = (page, sel) => page.$eval(sel, (e) => e.textContent);
const visible = (page, sel) => page.$eval(sel, (e) => !e.hidden && e.offsetParent !== null);

async function sideways(page, name) {
	const wide = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
	ok(wide <= 0, 'at 200% zoom (600 px) ' + name + ' needs no sideways scrolling (' + wide + ' px over)');
}

async function main() {
	const browser = await launch();
	diag('chromium ' + (await browser.version()) + ', puppeteer-core ' + require('puppeteer-core/package.json').version);
	const root = await browser.createBrowserContext();
	let page = await login(root, 'root');
	ok(page.url() === A + '/ui/', 'admin logged in through the form');

	// ---- templates: versions, side-by-side diff, previewed rollback ----
	await visit(page, '/ui/index.html');
	const nav = await page.$$eval('nav[aria-label=Main] a', (a) => a.map((x) => x.getAttribute('href')));
	ok(['/ui/templates.html', '/ui/pending.html', '/ui/import.html'].every((h) => nav.includes(h)),
		'the overview\'s navigation links the three pages');
	await visit(page, '/ui/templates.html?tenant=acme');
	const tlist = await cells(page, '#templates tbody tr');
	value('templates', tlist);
	await page.click('#templates tbody a');
	await page.waitForSelector('#detail:not([hidden])');
	await settle(page);
	value('versions', await cells(page, '#versions tbody tr'));
	await page.select('#diff-from', '1');
	await page.select('#diff-to', '2');
	await page.click('#diff-form button[type=submit]');
	await page.waitForSelector('#diff:not([hidden])');
	value('diff', await cells(page, '#diff tr'));
	value('diff_changed', await page.$$eval('#diff tbody tr.changed th', (t) => t.map((x) => x.textContent)));
	await shot(page, '01-templates-diff');
	await axeCheck(page, 'the templates page (diff shown)');
	await page.select('#rb-version', '1');
	await page.click('#rb-preview');
	await page.waitForSelector('#preview:not([hidden])');
	value('preview', { summary: await text(page, '#preview-summary'),
		macs: await page.$$eval('#preview-macs li', (l) => l.map((x) => x.textContent)),
		changes: await cells(page, '#preview-changes tbody tr'),
		focus: await page.evaluate(() => document.activeElement.id) });
	const mid = await call(page, 'GET', '/api/v1/tenants/acme/templates/main');
	value('version_after_preview', JSON.parse(mid.body).version);
	await shot(page, '02-templates-rollback-preview');
	await axeCheck(page, 'the templates page (rollback preview)');
	await page.keyboard.press('Enter');  // focus is on "Roll back now": the keyboard confirms
	await page.waitForFunction(() => document.getElementById('rb-result').textContent !== '', { timeout: 10000 });
	value('rolled', await text(page, '#rb-result'));
	value('versions_after', await cells(page, '#versions tbody tr'));
	await shot(page, '03-templates-rolled-back');

	// ---- pending: hostile User-Agent as text, claim with the suggested layout ----
	await visit(page, '/ui/pending.html');
	value('pending', await cells(page, '#pending tbody tr'));
	let shown = await noInjection(page, 'pending page');
	ok(shown.length >= 1, 'pending page: the hostile User-Agent shows as text (' + JSON.stringify(shown) + ')');
	await shot(page, '04-pending');
	await axeCheck(page, 'the pending page');
	await page.click('button[data-claim="' + CLAIM_MAC + '"]');
	await page.waitForSelector('#claim:not([hidden])');
	await settle(page);
	value('claim_form', { focus: await page.evaluate(() => document.activeElement.id),
		layout: await page.$eval('#claim-layout', (s) => s.value),
		templates: await page.$$eval('#claim-template option', (o) => o.map((x) => x.value)) });
	await page.select('#claim-tenant', 'acme');
	await settle(page);
	await shot(page, '05-pending-claim-form');
	await axeCheck(page, 'the pending page (claim form)');
	await page.click('#claim button[type=submit]');
	await page.waitForFunction(() => document.getElementById('result').textContent !== '', { timeout: 10000 });
	value('claimed', await text(page, '#result'));
	value('pending_after', await cells(page, '#pending tbody tr'));

	// ---- import: a bad row's error, nothing written; then a clean import ----
	const exportBefore = await call(page, 'GET', '/api/v1/export?tenant=acme');
	await visit(page, '/ui/import.html');
	await page.select('#tenant', 'acme');
	await page.$eval('#csv', (t, v) => { t.value = v; t.dispatchEvent(new Event('input')); }, BAD_CSV);
	await page.click('#check');
	await page.waitForSelector('#errors:not([hidden])', { timeout: 10000 });
	value('import_errors', await cells(page, '#errors tbody tr'));
	value('import_summary', await text(page, '#summary'));
	ok(await page.$eval('#import', (b) => b.disabled), 'import: with a row in error, Import stays disabled');
	shown = await noInjection(page, 'import page');
	ok(shown.length >= 1, 'import page: the hostile cell shows as text in the error (' + JSON.stringify(shown) + ')');
	await shot(page, '06-import-errors');
	await axeCheck(page, 'the import page (errors)');
	const exportAfter = await call(page, 'GET', '/api/v1/export?tenant=acme');
	ok(exportBefore.status === 200 && exportBefore.body === exportAfter.body,
		'import: the tenant\'s export is byte-identical before and after the failed dry run (nothing written)');
	await page.$eval('#csv', (t, v) => { t.value = v; t.dispatchEvent(new Event('input')); }, GOOD_CSV);
	await page.click('#check');
	await page.waitForFunction(() => !document.getElementById('import').disabled, { timeout: 10000 });
	value('import_dry', await text(page, '#summary'));
	const exportDry = await call(page, 'GET', '/api/v1/export?tenant=acme');
	ok(exportDry.body === exportBefore.body, 'import: a clean dry run writes nothing either');
	await page.click('#import');
	await page.waitForFunction(() => /^Imported/.test(document.getElementById('summary').textContent), { timeout: 10000 });
	value('imported', await text(page, '#summary'));
	await shot(page, '07-import-done');
	const rootProblems = page.problems.filter((p) => !/status of 422|HTTP 422 .*\/api\/v1\/import\?tenant=acme&dry_run=true$/.test(p));
	ok(rootProblems.length === 0, 'no console error on the admin\'s pages but the dry run\'s expected 422');
	for (const p of rootProblems)
		diag('  ' + p);

	// ---- a tenant user: only its tenant, no pending devices ----
	const tctx = await browser.createBrowserContext();
	page = await login(tctx, 'acme-ops');
	await visit(page, '/ui/pending.html');
	value('tenant_pending', { rows: (await cells(page, '#pending tbody tr')).length, msg: await text(page, '#count'),
		api: (await call(page, 'GET', '/api/v1/pending')).status,
		claim: (await call(page, 'POST', '/api/v1/pending/' + CLAIM_MAC + '/claim', '{"tenant":"acme"}', 'application/json')).status });
	await shot(page, '08-tenant-pending');
	await axeCheck(page, 'the pending page (tenant user)');
	await visit(page, '/ui/templates.html');
	value('tenant_templates', { tenants: await page.$$eval('#tenant option', (o) => o.map((x) => x.value)),
		other: (await call(page, 'GET', '/api/v1/tenants/other/templates')).status,
		other_rb: (await call(page, 'POST', '/api/v1/tenants/other/templates/main/rollback?dry_run=true', '{"version":1}',
			'application/json')).status,
		other_import: (await call(page, 'POST', '/api/v1/import?tenant=other&dry_run=true', GOOD_CSV, 'text/csv')).status });
	const tProblems = page.problems.filter((p) => !/status of 40[34]|HTTP 40[34] .*\/api\/v1\/(pending|tenants\/other|import)/.test(p));
	ok(tProblems.length === 0, 'no console error on the tenant user\'s pages but the expected 403/404s');
	for (const p of tProblems)
		diag('  ' + p);

	// ---- read-only: sees, cannot change; the pages at 200% zoom ----
	const rctx = await browser.createBrowserContext();
	page = await login(rctx, 'reader');
	await page.setViewport({ width: 600, height: 900 });
	await visit(page, '/ui/templates.html?tenant=acme&name=main');
	await page.waitForSelector('#detail:not([hidden])');
	value('ro_templates', { rollback_form: await visible(page, '#rollback-form'),
		dry: (await call(page, 'POST', '/api/v1/tenants/acme/templates/main/rollback?dry_run=true', '{"version":1}',
			'application/json')).status });
	await sideways(page, 'the templates page');
	await shot(page, '09-readonly-templates-200pct');
	await visit(page, '/ui/pending.html');
	value('ro_pending', { rows: (await cells(page, '#pending tbody tr')).length, buttons: (await page.$$('#pending button')).length,
		forget: (await call(page, 'DELETE', '/api/v1/pending/' + env('OTHER_PENDING'))).status });
	await sideways(page, 'the pending page');
	await shot(page, '10-readonly-pending-200pct');
	await visit(page, '/ui/import.html');
	value('ro_import', { check: await page.$eval('#check', (b) => b.disabled),
		post: (await call(page, 'POST', '/api/v1/import?tenant=acme&dry_run=true', GOOD_CSV, 'text/csv')).status });
	await sideways(page, 'the import page');
	await shot(page, '11-readonly-import-200pct');
	const rProblems = page.problems.filter((p) => !/status of 403|HTTP 403 .*\/api\/v1\/(pending|tenants|import)/.test(p));
	ok(rProblems.length === 0, 'no console error on the read-only user\'s pages but the expected 403s');
	for (const p of rProblems)
		diag('  ' + p);
	await browser.close();
}

main().catch((e) => { out('not ok', 'browser run: ' + (e.stack || e)); process.exit(1); });
