// jobs.js: drives Debian's chromium through the console's jobs and drift
// pages for tests/t/9e-console-jobs.sh; one line per check
// ("ok|not ok<TAB>text", "diag<TAB>text", "value<TAB>name<TAB>json") for
// the shell to turn into TAP.  The shell owns the data, the sipp phone and
// the comparisons with the API.
'use strict';
const { A, env, out, ok, diag, value, launch, watched, settle, visit, shot, axeCheck, login, cells, call } = require('./lib.js');

const HOSTILE = env('HOSTILE');
const PHONE = env('PHONE_MAC');

async function main() {
	const browser = await launch();
	const root = await browser.createBrowserContext();
	let page = await login(root, 'root');

	// ---- jobs: start one for the phone, watch it finish ----
	await visit(page, '/ui/jobs.html?tenant=acme');
	ok(await page.$eval('#start', (f) => !f.hidden), 'an admin sees the form that starts a job');
	await page.select('#target', 'device');
	await page.type('#mac', PHONE);
	await page.click('#go');
	// Live progress: the page polls until the job is done, no reload.
	const done = await page.waitForFunction(() => {
		const r = document.querySelector('#jobs tbody tr[data-job] .state');
		return r && r.textContent === 'done';
	}, { timeout: 40000 }).then(() => true, () => false);
	ok(done, 'the job reaches done on the page without a reload');
	await settle(page);
	value('status', await page.$eval('#status', (e) => e.textContent));
	value('jobs', await cells(page, '#jobs tbody tr'));
	value('progress', await page.$eval('#jobs tbody progress', (p) => [p.value, p.max]));
	value('items', await cells(page, '#items tbody tr'));
	await shot(page, '01-jobs');
	await axeCheck(page, 'the jobs page');
	ok(page.problems.length === 0 && page.dialogs.length === 0, 'no console error on the jobs page (' + page.problems.join('; ') + ')');

	// ---- drift and failures ----
	await visit(page, '/ui/drift.html?tenant=acme');
	value('failing', await page.$$eval('#failing li', (l) => l.map((x) => [x.textContent, x.querySelector('a') ? x.querySelector('a').getAttribute('href') : ''])));
	value('drift', await cells(page, '#drift tbody tr'));
	const r = await page.evaluate((h) => ({
		shown: document.body.innerText.includes(h),
		imgs: document.querySelectorAll('img, svg, iframe, object, embed').length,
		scripts: [...document.scripts].map((s) => s.src).filter((s) => !/\/ui\/(app|drift)\.js$/.test(s)),
	}), HOSTILE);
	ok(r.shown && r.imgs === 0 && r.scripts.length === 0 && page.dialogs.length === 0,
		'a hostile observed registrar shows as text, nothing injected, no dialog (' + JSON.stringify(r) + ')');
	await shot(page, '02-drift');
	await axeCheck(page, 'the drift page');
	await page.select('#kind', 'port');
	await page.click('#filter button[type=submit]');
	await settle(page);
	value('drift_port', await cells(page, '#drift tbody tr'));
	await page.click('#failing a');
	await page.waitForSelector('#devices tbody tr');
	await settle(page);
	value('failing_devices', await cells(page, '#devices tbody tr'));
	ok(page.problems.length === 0 && page.dialogs.length === 0, 'no console error on the drift page (' + page.problems.join('; ') + ')');

	// ---- read-only: no form, and the API refuses its write ----
	const rctx = await browser.createBrowserContext();
	page = await login(rctx, 'reader');
	await visit(page, '/ui/jobs.html?tenant=acme');
	ok(await page.$eval('#start', (f) => f.hidden), 'read-only: the form is not shown');
	value('reader_post', await call(page, 'POST', '/api/v1/jobs', JSON.stringify({ kind: 'reprovision', device: PHONE }), 'application/json'));

	// ---- a tenant user: only its tenant's jobs ----
	const tctx = await browser.createBrowserContext();
	page = await login(tctx, 'acme-ops');
	await visit(page, '/ui/jobs.html');
	value('tenant_jobs', await cells(page, '#jobs tbody tr'));
	value('tenant_other', await call(page, 'GET', '/api/v1/jobs?tenant=other'));
	await browser.close();
}

main().catch((e) => { out('not ok', 'the browser run: ' + e.message); process.exit(1); });
