// pending.js: the console's pending-devices page: phones refused because
// nobody entered them, and a form that claims one into a tenant (layout
// suggested from what the phone said, template optional) or forgets it.
// Pending phones have no tenant, so a tenant user is told so and the page
// asks nothing of the API; the API refuses such a user anyway.
'use strict';

(window.sipprovPages = window.sipprovPages || {}).pending = async function pending() {
	if (session.tenant) {
		document.getElementById('count').textContent =
			'Pending devices belong to no tenant yet: only users without a tenant see and claim them.';
		document.querySelector('#pending').hidden = document.querySelector('.pager').hidden = true;
		return;
	}
	const limit = 25;
	let offset = 0;
	const form = document.getElementById('claim');
	const result = document.getElementById('result');
	const tsel = document.getElementById('claim-tenant');
	await tenants(tsel);
	const all = tsel.querySelector('option[value=""]');
	if (all)
		all.remove();

	const templates = async () => {
		const s = document.getElementById('claim-template');
		s.replaceChildren(el('option', { value: '' }, 'the tenant\'s default'));
		if (!tsel.value)
			return;
		const j = await api('/api/v1/tenants/' + encodeURIComponent(tsel.value) + '/templates');
		for (const t of j.items)
			s.append(el('option', { value: t.name }, t.name + (t.default ? ' (default)' : '')));
	};

	let claiming = null;
	const open = async (p) => {
		claiming = p;
		document.getElementById('claim-mac').textContent = p.mac;
		const ls = document.getElementById('claim-layout');
		ls.replaceChildren();
		if (!p.layout)
			ls.append(el('option', { value: '' }, 'choose a layout'));
		for (const c of p.candidates)
			ls.append(el('option', { value: c }, c + (c === p.layout ? ' (suggested)' : '')));
		ls.value = p.layout || '';
		document.getElementById('claim-hint').textContent = p.layout
			? 'Suggested from its User-Agent and the file it asked for.'
			: 'It asked for ' + p.path + ', which ' + p.candidates.join(', ') + ' answer; its User-Agent names no vendor.';
		await templates();
		form.hidden = false;
		tsel.focus();
	};

	const ro = session.role === 'read-only';
	if (ro)
		document.querySelector('#pending thead th:last-child').remove();   // no actions to offer

	const load = async () => {
		const j = await api('/api/v1/pending?limit=' + limit + '&offset=' + offset);
		const body = document.querySelector('#pending tbody');
		body.replaceChildren();
		for (const p of j.items) {
			const acts = el('td', {});
			if (!ro) {
				const c = el('button', { type: 'button', 'data-claim': p.mac, 'aria-label': 'Claim ' + p.mac }, 'Claim');
				c.addEventListener('click', () => open(p).catch((e) => showError(e.message)));
				const f = el('button', { type: 'button', class: 'secondary', 'data-forget': p.mac, 'aria-label': 'Forget ' + p.mac }, 'Forget');
				f.addEventListener('click', () => forget(p.mac).catch((e) => showError(e.message)));
				acts.append(c, ' ', f);
			}
			const phone = [p.vendor, p.model, p.firmware].filter((x) => x).join(' ') || 'unknown';
			body.append(el('tr', {}, el('th', { scope: 'row' }, p.mac), el('td', {}, phone), el('td', {}, p.path),
				el('td', {}, p.user_agent), el('td', {}, p.source_ip), el('td', {}, when(p.last_seen)), el('td', {}, String(p.count)), ro ? '' : acts));
		}
		const last = Math.min(j.offset + j.items.length, j.total);
		document.getElementById('count').textContent =
			j.total ? 'Pending phones ' + (j.offset + 1) + ' to ' + last + ' of ' + j.total : 'No unknown phone has asked for a configuration.';
		document.getElementById('prev').disabled = offset === 0;
		document.getElementById('next').disabled = last >= j.total;
	};

	const forget = async (mac) => {
		await api('/api/v1/pending/' + encodeURIComponent(mac), { method: 'DELETE' });
		await load();
		result.textContent = mac + ' removed from the pending list.';
	};

	const run = (f) => f().catch((e) => showError(e.message));
	tsel.addEventListener('change', () => run(templates));
	form.addEventListener('submit', (ev) => {
		ev.preventDefault();
		run(async () => {
			const b = { tenant: tsel.value };
			const layout = document.getElementById('claim-layout').value, tpl = document.getElementById('claim-template').value;
			if (layout)
				b.layout = layout;
			if (tpl)
				b.template = tpl;
			const d = await api('/api/v1/pending/' + encodeURIComponent(claiming.mac) + '/claim', {
				method: 'POST', body: JSON.stringify(b), headers: { 'Content-Type': 'application/json' },
			});
			form.hidden = true;
			showError('');
			await load();           // the list first, so the message is the last thing to change
			result.replaceChildren('Device ', el('a', { href: '/ui/device.html?mac=' + encodeURIComponent(d.mac) }, d.mac),
				' added to tenant ' + d.tenant + ' (layout ' + d.layout + ').');
		});
	});
	document.getElementById('claim-cancel').addEventListener('click', () => {
		form.hidden = true;
		const b = claiming && document.querySelector('[data-claim="' + claiming.mac + '"]');
		if (b)
			b.focus();
	});
	document.getElementById('prev').addEventListener('click', () => { offset = Math.max(0, offset - limit); run(load); });
	document.getElementById('next').addEventListener('click', () => { offset += limit; run(load); });
	await load();
};
