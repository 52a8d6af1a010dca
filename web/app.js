// app.js: the console's pages after login (overview, devices, device).
// Every value from the server goes into the page as text (textContent or
// text nodes), never as HTML; writes carry the session's CSRF token.  It
// decides nothing: what a user may see or change is sipprovd's answer.
'use strict';

let session = null;

// el('td', {class: 'x'}, 'text', childNode...): strings become text nodes.
function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {}))
		e.setAttribute(k, v);
	for (const k of kids)
		e.append(k instanceof Node ? k : document.createTextNode(k === null || k === undefined ? '' : String(k)));
	return e;
}

function showError(msg) {
	document.getElementById('error').textContent = msg;
}

async function api(path, opts) {
	opts = Object.assign({ credentials: 'same-origin', headers: {} }, opts || {});
	if (opts.method && opts.method !== 'GET')
		opts.headers['X-CSRF-Token'] = session.csrf;
	const r = await fetch(path, opts);
	if (r.status === 401) {
		location.assign('/ui/login.html');
		throw new Error('not logged in');
	}
	const j = await r.json().catch(() => ({}));
	if (!r.ok)
		throw Object.assign(new Error(j.error ? j.error.message : 'HTTP ' + r.status), { status: r.status, body: j });
	return j;
}

function when(t) {
	return t ? new Date(t * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : 'never';
}

function param(name) {
	return new URLSearchParams(location.search).get(name) || '';
}

// The tenant picker: a tenant user has only its own; others pick (or all).
async function tenants(select) {
	const j = await api('/api/v1/tenants');
	if (!session.tenant)
		select.append(el('option', { value: '' }, 'all tenants'));
	for (const t of j.items)
		select.append(el('option', { value: t.slug }, t.name && t.name !== t.slug ? t.slug + ' (' + t.name + ')' : t.slug));
	const want = param('tenant');
	if (want)
		select.value = want;
}

// A horizontal bar per entry; widths are set through the CSSOM (allowed by
// the page's CSP, unlike style attributes).
function chart(box, entries, labels) {
	box.replaceChildren();
	const max = Math.max(1, ...entries.map(([, n]) => n));
	const list = el('dl', { class: 'bars' });
	for (const [k, n] of entries) {
		const bar = el('span', { class: 'bar bar-' + k });
		bar.style.width = (100 * n / max) + '%';
		list.append(el('dt', {}, labels && labels[k] ? labels[k] : k),
			el('dd', { 'data-count': k }, el('span', { class: 'num' }, String(n)), bar));
	}
	if (!entries.length)
		list.append(el('dt', {}, 'none'), el('dd', {}, '0'));
	box.append(list);
}

// Counts per bucket as a table, one column and one bar per key ("served";
// or "registered" and "failed").  Config fetches: fetch_log holds served
// fetches only (200/304); refused ones show as failed registrations.
function history24(table, from, step, n, buckets, unit, keys) {
	keys = keys || ['served'];
	const body = table.tBodies[0];
	body.replaceChildren();
	const by = new Map(buckets.map((b) => [b.start, b]));
	const max = Math.max(1, ...buckets.flatMap((b) => keys.map((k) => b[k])));
	for (let i = 0; i < n; i++) {
		const t = from + i * step;
		const b = by.get(t) || {};
		const iso = new Date(t * 1000).toISOString();
		const row = el('tr', {}, el('th', { scope: 'row' }, unit === 'hour' ? iso.slice(11, 16) : iso.slice(0, 10)));
		for (const k of keys)
			row.append(el('td', { ['data-' + k]: '' }, String(b[k] || 0)));
		const bars = el('td', { 'aria-hidden': 'true' });
		for (const k of keys) {
			const bar = el('span', { class: 'bar bar-' + k });
			bar.style.width = (12 * (b[k] || 0) / max) + 'rem';
			bars.append(bar);
		}
		row.append(bars);
		body.append(row);
	}
}

const stateLabels = { current: 'config current', stale: 'stale config', never_fetched: 'never fetched', disabled: 'disabled' };

async function overview() {
	const sel = document.getElementById('tenant');
	await tenants(sel);
	const load = async () => {
		const q = sel.value ? '?tenant=' + encodeURIComponent(sel.value) : '';
		const s = await api('/api/v1/fleet/summary' + q);
		document.getElementById('total').textContent = String(s.devices);
		chart(document.getElementById('states'), Object.entries(s.states), stateLabels);
		chart(document.getElementById('registrations'),
			Object.entries(s.registrations).map(([k, n]) => [k, n]),
			Object.fromEntries(Object.keys(s.registrations).map((k) =>
				[k, k === 'none' ? 'no registration seen' : k === '200' ? '200 registered' : k + ' failing'])));
		chart(document.getElementById('drift'), Object.entries(s.drift_open));
		history24(document.getElementById('fetches-24h'), s.fetches.hours_from, 3600, 24, s.fetches.hours, 'hour');
		history24(document.getElementById('fetches-7d'), s.fetches.days_from, 86400, 7, s.fetches.days, 'day');
		const r = s.registration_history, rk = ['registered', 'failed'];
		history24(document.getElementById('regs-24h'), r.hours_from, 3600, 24, r.hours, 'hour', rk);
		history24(document.getElementById('regs-7d'), r.days_from, 86400, 7, r.days, 'day', rk);
	};
	sel.addEventListener('change', () => load().catch((e) => showError(e.message)));
	await load();
}

async function devices() {
	const form = document.getElementById('filter');
	const sel = document.getElementById('tenant');
	await tenants(sel);
	for (const k of ['q', 'state', 'model', 'code'])
		document.getElementById(k).value = param(k);
	let offset = Number(param('offset')) || 0;
	const limit = 25;
	const load = async () => {
		const p = new URLSearchParams();
		for (const k of ['tenant', 'q', 'state', 'model', 'code']) {
			const v = document.getElementById(k).value.trim();
			if (v)
				p.set(k, v);
		}
		p.set('offset', offset);
		p.set('limit', limit);
		history.replaceState(null, '', '?' + p.toString());
		const j = await api('/api/v1/fleet/devices?' + p.toString());
		const body = document.querySelector('#devices tbody');
		body.replaceChildren();
		for (const d of j.items) {
			const users = d.lines.map((l) => l.username + (l.display_name ? ' (' + l.display_name + ')' : '')).join(', ');
			const reg = d.registration ? d.registration.code + ' ' + d.registration.reason : 'none seen';
			body.append(el('tr', {},
				el('td', {}, el('a', { href: '/ui/device.html?mac=' + encodeURIComponent(d.mac) }, d.mac)),
				el('td', {}, d.label), el('td', {}, d.model), el('td', {}, users),
				el('td', {}, stateLabels[d.state] || d.state), el('td', {}, reg), el('td', {}, String(d.drift_open))));
		}
		const last = Math.min(j.offset + j.items.length, j.total);
		document.getElementById('count').textContent =
			j.total ? 'Devices ' + (j.offset + 1) + ' to ' + last + ' of ' + j.total : 'No device matches';
		document.getElementById('prev').disabled = offset === 0;
		document.getElementById('next').disabled = last >= j.total;
	};
	const run = () => load().catch((e) => showError(e.message));
	form.addEventListener('submit', (ev) => { ev.preventDefault(); offset = 0; run(); });
	document.getElementById('prev').addEventListener('click', () => { offset = Math.max(0, offset - limit); run(); });
	document.getElementById('next').addEventListener('click', () => { offset += limit; run(); });
	await load();
}

function kv(dl, pairs) {
	dl.replaceChildren();
	for (const [k, v] of pairs)
		dl.append(el('dt', {}, k), el('dd', {}, v));
}

async function device() {
	const mac = param('mac');
	const d = await api('/api/v1/fleet/devices/' + encodeURIComponent(mac));
	document.querySelector('h1').textContent = 'Device ' + d.mac;
	document.title = 'Device ' + d.mac + ' · sipprov console';
	kv(document.getElementById('summary'), [['MAC', d.mac], ['Tenant', d.tenant], ['Label', d.label],
		['Model', d.model], ['Layout', d.layout], ['Template', d.template || '(tenant default)'],
		['Status', d.status], ['Config state', stateLabels[d.state] || d.state]]);
	const actions = document.getElementById('actions');
	actions.replaceChildren();
	if (session.role !== 'read-only') {
		const enable = d.status !== 'active';
		const b = el('button', { type: 'button', id: 'toggle' }, enable ? 'Enable device' : 'Disable device');
		b.addEventListener('click', async () => {
			try {
				await api('/api/v1/devices/' + encodeURIComponent(d.mac) + (enable ? '/enable' : '/disable'), { method: 'POST' });
				await device();
			} catch (e) {
				showError(e.message);
			}
		});
		actions.append(b);
	}
	const lines = document.querySelector('#lines tbody');
	lines.replaceChildren();
	for (const l of d.lines)
		lines.append(el('tr', {}, el('td', {}, String(l.line)), el('td', {}, l.username), el('td', {}, l.display_name),
			el('td', {}, l.extension), el('td', {}, l.auth_username), el('td', {}, l.has_password ? '********' : 'none')));
	const f = d.last_fetch;
	kv(document.getElementById('fetch'), [['When', when(f.at)], ['From', f.ip], ['User-Agent', f.user_agent],
		['Template version', f.version ? String(f.version) : '']]);
	const r = d.registration;
	kv(document.getElementById('registration'), r ? [['When', when(r.at)], ['Code', r.code + ' ' + r.reason],
		['From', r.src_ip], ['Registrar', r.registrar], ['User-Agent', r.user_agent]] : [['Seen', 'none']]);
	const drift = document.querySelector('#drift tbody');
	drift.replaceChildren();
	for (const e of d.drift)
		drift.append(el('tr', {}, el('td', {}, e.kind), el('td', {}, e.expected), el('td', {}, e.observed),
			el('td', {}, String(e.count)), el('td', {}, when(e.last_seen))));
	const fetches = document.querySelector('#fetches tbody');
	fetches.replaceChildren();
	for (const f of d.fetches)
		fetches.append(el('tr', {}, el('td', {}, when(f.at)), el('td', {}, String(f.status)), el('td', {}, f.path),
			el('td', {}, f.ip), el('td', {}, f.user_agent), el('td', {}, f.version ? String(f.version) : '')));
	document.getElementById('settings').textContent = JSON.stringify(d.overrides, null, 2);
}

async function start() {
	try {
		session = await api('/ui/session');
	} catch (e) {
		return;
	}
	document.getElementById('who').textContent =
		session.user + ' (' + session.role + (session.tenant ? ', tenant ' + session.tenant : '') + ')';
	document.getElementById('logout').addEventListener('click', async () => {
		await api('/ui/logout', { method: 'POST' }).catch(() => null);
		location.assign('/ui/login.html');
	});
	// Pages in their own files register in window.sipprovPages before this runs.
	const pages = Object.assign({ overview, devices, device }, window.sipprovPages);
	try {
		await pages[document.body.dataset.page]();
	} catch (e) {
		showError(e.message);
		return;
	}
	// Page scripts in other files (device-ops.js) start from here.
	document.dispatchEvent(new CustomEvent('sipprov:page', { detail: session }));
}

start();
