// templates.js: the console's templates page: a tenant's templates, one
// template's versions, a side-by-side diff of two versions, and a rollback
// that is previewed (which settings, which devices change) and confirmed
// before it is written.  Values go in as text only (app.js's el); what a
// user may do is the API's answer, not this file's.
'use strict';

(window.sipprovPages = window.sipprovPages || {}).templates = async function templates() {
	const sel = document.getElementById('tenant');
	await tenants(sel);
	const all = sel.querySelector('option[value=""]');
	if (all)
		all.remove();                   // templates belong to one tenant
	if (!sel.value && sel.options.length)
		sel.selectedIndex = 0;
	const base = () => '/api/v1/tenants/' + encodeURIComponent(sel.value) + '/templates';
	const name = () => param('name');

	const list = async () => {
		const j = await api(base());
		const body = document.querySelector('#templates tbody');
		body.replaceChildren();
		for (const t of j.items) {
			const href = '/ui/templates.html?tenant=' + encodeURIComponent(sel.value) + '&name=' + encodeURIComponent(t.name);
			body.append(el('tr', {}, el('th', { scope: 'row' }, el('a', { href }, t.name)), el('td', {}, 'v' + t.version),
				el('td', {}, t.author), el('td', {}, t.created), el('td', {}, t.comment), el('td', {}, t.default ? 'yes' : '')));
		}
		if (!j.items.length)
			body.append(el('tr', {}, el('td', { colspan: '6' }, 'This tenant has no template.')));
	};

	let current = null;                     // the version served now (its sha256 is the ETag)
	const detail = async () => {
		const box = document.getElementById('detail');
		if (!name()) {
			box.hidden = true;
			return;
		}
		const j = await api(base() + '/' + encodeURIComponent(name()) + '/versions');
		box.hidden = false;
		document.getElementById('tname').textContent = name();
		const vs = j.items.slice().sort((a, b) => b.version - a.version);
		current = vs.find((v) => v.current) || vs[0];
		const body = document.querySelector('#versions tbody');
		body.replaceChildren();
		for (const v of vs)
			body.append(el('tr', {}, el('th', { scope: 'row' }, 'v' + v.version), el('td', {}, v.created), el('td', {}, v.author),
				el('td', {}, v.comment), el('td', {}, v.current ? 'yes' : '')));
		const fill = (s, pick) => {
			s.replaceChildren(...vs.map((v) => el('option', { value: String(v.version) }, 'v' + v.version + (v.current ? ' (current)' : ''))));
			if (pick)
				s.value = String(pick.version);
		};
		fill(document.getElementById('diff-from'), vs[1] || vs[0]);
		fill(document.getElementById('diff-to'), vs[0]);
		fill(document.getElementById('rb-version'), vs.find((v) => !v.current) || vs[0]);
	};

	const diff = async () => {
		const a = document.getElementById('diff-from').value, b = document.getElementById('diff-to').value;
		const t = base() + '/' + encodeURIComponent(name());
		const [va, vb, d] = await Promise.all([api(t + '/versions/' + a), api(t + '/versions/' + b),
			api(t + '/diff?from=' + a + '&to=' + b)]);
		const changed = new Map(d.changes.map((c) => [c.key, c]));
		const keys = [...new Set([...Object.keys(va.settings), ...Object.keys(vb.settings)])].sort();
		const body = document.querySelector('#diff tbody');
		body.replaceChildren();
		for (const k of keys) {
			const c = changed.get(k);
			const what = !c ? 'same' : c.old === null ? 'added in B' : c.new === null ? 'removed in B' : 'changed';
			const show = (v) => (v === undefined ? '(unset)' : v);
			body.append(el('tr', c ? { class: 'changed' } : {}, el('th', { scope: 'row' }, k), el('td', {}, show(va.settings[k])),
				el('td', {}, show(vb.settings[k])), el('td', {}, what)));
		}
		document.getElementById('diff-a').textContent = 'v' + a;
		document.getElementById('diff-b').textContent = 'v' + b;
		document.getElementById('diff-caption').textContent = 'v' + a + ' and v' + b + ' side by side: ' +
			d.changes.length + ' setting' + (d.changes.length === 1 ? '' : 's') + ' differ';
		document.getElementById('diff').hidden = false;
	};

	const preview = document.getElementById('preview');
	const rollback = async (dry) => {
		const v = Number(document.getElementById('rb-version').value);
		return api(base() + '/' + encodeURIComponent(name()) + '/rollback' + (dry ? '?dry_run=true' : ''), {
			method: 'POST', body: JSON.stringify({ version: v }),
			headers: { 'Content-Type': 'application/json', 'If-Match': '"' + current.sha256 + '"' },
		});
	};
	const showPreview = (p) => {
		const n = p.devices;
		document.getElementById('preview-summary').textContent = !p.changed
			? 'v' + p.version + ' holds the settings served now: rolling back would change nothing.'
			: 'Rolling back ' + p.name + ' from v' + p.current + ' to the settings of v' + p.version + ' changes the configuration of ' +
				n + ' device' + (n === 1 ? '' : 's') + (p.pinned ? '; ' + p.pinned + ' pinned to a version keep it' : '') + '.';
		const ch = document.querySelector('#preview-changes tbody');
		ch.replaceChildren(...p.changes.map((c) => el('tr', { class: 'changed' }, el('th', { scope: 'row' }, c.key),
			el('td', {}, c.old === null ? '(unset)' : c.old), el('td', {}, c.new === null ? '(unset)' : c.new))));
		const macs = document.getElementById('preview-macs');
		macs.replaceChildren(...p.macs.map((m) => el('li', {}, el('a', { href: '/ui/device.html?mac=' + encodeURIComponent(m) }, m))));
		if (n > p.macs.length)
			macs.append(el('li', {}, 'and ' + (n - p.macs.length) + ' more'));
		document.getElementById('preview-devices-label').hidden = n === 0;
		document.getElementById('rb-confirm').hidden = !p.changed;
		preview.hidden = false;
		document.getElementById(p.changed ? 'rb-confirm' : 'rb-cancel').focus();
	};

	const run = (f) => f().catch((e) => showError(e.message));
	sel.addEventListener('change', () => {
		history.replaceState(null, '', '?tenant=' + encodeURIComponent(sel.value));
		document.getElementById('detail').hidden = true;
		run(list);
	});
	document.getElementById('diff-form').addEventListener('submit', (ev) => { ev.preventDefault(); run(diff); });
	document.getElementById('rollback-form').addEventListener('submit', (ev) => {
		ev.preventDefault();
		document.getElementById('rb-result').textContent = '';
		run(async () => showPreview(await rollback(true)));
	});
	document.getElementById('rb-cancel').addEventListener('click', () => {
		preview.hidden = true;
		document.getElementById('rb-preview').focus();
	});
	document.getElementById('rb-confirm').addEventListener('click', () => run(async () => {
		const v = await rollback(false);
		preview.hidden = true;
		await detail();
		await list();
		document.getElementById('rb-result').textContent = 'Rolled back: ' + v.name + ' is now at v' + v.version + ' (' + v.comment + ').';
	}));
	if (session.role === 'read-only')
		document.getElementById('rollback-form').hidden = document.getElementById('h-rollback').hidden = true;
	await list();
	await detail();
};
