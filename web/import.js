// import.js: the console's CSV import page: a file or pasted text is first
// sent as a dry run (nothing written); its per-row errors are shown in a
// table; only a dry run without errors, of exactly the text shown, enables
// "Import", which sends the same text for real.  The rules are the
// importer's (POST /api/v1/import); this file only shows its answers.
'use strict';

(window.sipprovPages = window.sipprovPages || {}).import = async function importPage() {
	const sel = document.getElementById('tenant');
	await tenants(sel);
	const all = sel.querySelector('option[value=""]');
	if (all)
		all.remove();                   // an import goes into one tenant
	const text = document.getElementById('csv');
	const go = document.getElementById('import');
	const summary = document.getElementById('summary');
	const table = document.getElementById('errors');
	let checked = null;                     // the text and tenant of the last clean dry run

	const send = (dry) => api('/api/v1/import?tenant=' + encodeURIComponent(sel.value) + (dry ? '&dry_run=true' : ''), {
		method: 'POST', body: text.value, headers: { 'Content-Type': 'text/csv' },
	});
	const counts = (j) => j.rows + ' row' + (j.rows === 1 ? '' : 's') + ': ' + j.devices_new + ' new device' +
		(j.devices_new === 1 ? '' : 's') + ', ' + j.devices_updated + ' updated, ' + j.accounts_new + ' new line' +
		(j.accounts_new === 1 ? '' : 's') + ', ' + j.accounts_updated + ' updated';
	const reset = () => {
		checked = null;
		go.disabled = true;
	};

	// One CSV line's cells ("" quotes, "" inside doubled), for showing a
	// row; the importer, not this, decides what a row means.
	const cells = (line) => {
		const out = [];
		let cur = '', q = false;
		for (let i = 0; i < line.length; i++) {
			const c = line[i];
			if (q && c === '"' && line[i + 1] === '"') {
				cur += '"';
				i++;
			} else if (c === '"') {
				q = !q;
			} else if (c === ',' && !q) {
				out.push(cur);
				cur = '';
			} else {
				cur += c;
			}
		}
		out.push(cur);
		return out;
	};
	// The row as the user wrote it, passwords masked.
	const shown = (line, secret) => cells(line).map((v, i) => (secret[i] && v ? '********' : v)).join(',');

	const check = async () => {
		reset();
		showError('');
		table.hidden = true;
		const lines = text.value.split(/\r?\n/);
		const head = cells(lines[0] || '');
		const secret = head.map((h) => /pass|secret|ha1/i.test(h));
		try {
			const j = await send(true);
			summary.textContent = 'Dry run, nothing written: ' + counts(j) + '. Press Import to write it.';
			checked = { csv: text.value, tenant: sel.value };
			go.disabled = false;
		} catch (e) {
			const errs = e.body && e.body.errors;
			if (!errs || !errs.length)
				throw e;
			summary.textContent = e.message;
			const body = table.tBodies[0];
			// Rows are counted after the header line.
			body.replaceChildren(...errs.map((r) => el('tr', {}, el('th', { scope: 'row' }, r.row ? String(r.row) : ''),
				el('td', {}, r.field || ''), el('td', {}, r.message), el('td', {}, r.row ? shown(lines[r.row] || '', secret) : ''))));
			table.hidden = false;
		}
	};

	document.getElementById('file').addEventListener('change', async (ev) => {
		const f = ev.target.files[0];
		if (f) {
			text.value = await f.text();
			reset();
		}
	});
	text.addEventListener('input', reset);
	sel.addEventListener('change', reset);
	document.getElementById('import-form').addEventListener('submit', (ev) => {
		ev.preventDefault();
		check().catch((e) => showError(e.message));
	});
	go.addEventListener('click', () => (async () => {
		if (!checked || checked.csv !== text.value || checked.tenant !== sel.value)
			return reset();
		const j = await send(false);
		reset();
		summary.textContent = 'Imported into ' + j.tenant + ': ' + counts(j) + '.';
	})().catch((e) => showError(e.message)));
	if (session.role === 'read-only') {
		document.getElementById('check').disabled = true;
		summary.textContent = 'Read-only users cannot import.';
	}
};
