// drift.js: the tenant's drift events (filter by kind and state, paged by
// the API's cursor) and its failing registrations by code, each code
// linking to the device list filtered on it.  Values as text only.
'use strict';

(function () {
	let cursor = null;

	function query() {
		const p = new URLSearchParams();
		for (const k of ['tenant', 'kind', 'state']) {
			const v = document.getElementById(k).value;
			if (v)
				p.set(k, v);
		}
		return p;
	}

	async function failing() {
		const tenant = document.getElementById('tenant').value;
		const s = await api('/api/v1/fleet/summary' + (tenant ? '?tenant=' + encodeURIComponent(tenant) : ''));
		const list = document.getElementById('failing');
		list.replaceChildren();
		const codes = Object.entries(s.registrations).filter(([k]) => k !== 'none' && Number(k) >= 300);
		for (const [code, n] of codes.sort()) {
			const p = new URLSearchParams({ code });
			if (tenant)
				p.set('tenant', tenant);
			list.append(el('li', { 'data-code': code },
				el('a', { href: '/ui/devices.html?' + p.toString() }, code), ': ' + n + (n === 1 ? ' phone' : ' phones')));
		}
		if (!codes.length)
			list.append(el('li', {}, 'No phone fails to register.'));
	}

	async function events(more) {
		const p = query();
		p.set('limit', '50');
		if (more && cursor)
			p.set('cursor', cursor);
		const j = await api('/api/v1/drift?' + p.toString());
		const body = document.querySelector('#drift tbody');
		if (!more)
			body.replaceChildren();
		for (const ev of j.items)
			body.append(el('tr', {},
				el('td', {}, el('a', { href: '/ui/device.html?mac=' + encodeURIComponent(ev.mac) }, ev.mac)),
				el('td', {}, String(ev.line)), el('td', {}, ev.kind), el('td', {}, ev.expected),
				el('td', {}, ev.observed), el('td', {}, when(ev.first_seen)), el('td', {}, when(ev.last_seen)),
				el('td', {}, String(ev.count)), el('td', {}, ev.open ? 'open' : 'resolved ' + when(ev.resolved))));
		cursor = j.next_cursor;
		document.getElementById('more').disabled = !cursor;
		const n = body.rows.length;
		document.getElementById('count').textContent = n ? n + (cursor ? ' events shown, more to load' : ' events') : 'No drift event matches';
	}

	(window.sipprovPages = window.sipprovPages || {}).drift = async function () {
		const sel = document.getElementById('tenant');
		await tenants(sel);
		for (const k of ['kind', 'state'])
			if (param(k))
				document.getElementById(k).value = param(k);
		const run = (more) => Promise.all(more ? [events(true)] : [failing(), events(false)])
			.catch((e) => showError(e.message));
		document.getElementById('filter').addEventListener('submit', (ev) => { ev.preventDefault(); run(false); });
		document.getElementById('more').addEventListener('click', () => run(true));
		await run(false);
	};
})();
