// jobs.js: the reprovision jobs page: start a job (tenant, drifted phones
// or one MAC), watch every job's progress live (polled while one is queued
// or running) and resume what did not succeed.  sipprovd's job worker
// does the work; this page only asks and shows, values as text only.
'use strict';

(function () {
	let timer = null;
	let open = null;            // the job whose items are shown

	function target(j) {
		if (j.target.device)
			return 'phone ' + j.target.device;
		return (j.target.drifted ? 'drifted phones of ' : 'every phone of ') + (j.target.tenant || j.tenant || 'every tenant');
	}

	// Done = recorded results other than "pending"; total = every target.
	function progress(j) {
		const total = j.counts.total || 0;
		const left = j.counts.pending || 0;
		return [total - left, total];
	}

	function results(j) {
		return Object.entries(j.counts).filter(([k, n]) => k !== 'total' && n)
			.map(([k, n]) => k + ': ' + n).join(', ') || 'none yet';
	}

	async function showItems(j) {
		const d = await api('/api/v1/jobs/' + j.id + '?limit=500');
		const body = document.querySelector('#items tbody');
		body.replaceChildren();
		for (const it of d.items)
			body.append(el('tr', {}, el('td', {}, it.mac), el('td', {}, it.result), el('td', {}, it.detail),
				el('td', {}, when(it.at))));
		document.getElementById('detail-title').textContent = 'Job ' + j.id + ': ' + target(j) +
			(d.next_cursor ? ' (first 500 phones)' : '');
		document.getElementById('detail').hidden = false;
	}

	async function load() {
		const tenant = document.getElementById('tenant').value;
		const j = await api('/api/v1/jobs?limit=50' + (tenant ? '&tenant=' + encodeURIComponent(tenant) : ''));
		const body = document.querySelector('#jobs tbody');
		body.replaceChildren();
		let live = false;
		for (const job of j.items) {
			const [done, total] = progress(job);
			const bar = el('progress', { max: String(Math.max(total, 1)), value: String(done),
				'aria-label': 'job ' + job.id + ' progress' });
			const actions = el('td', {});
			const show = el('button', { type: 'button' }, 'Phones');
			show.addEventListener('click', () => { open = job.id; showItems(job).catch((e) => showError(e.message)); });
			actions.append(show);
			// Resume retries whatever did not get a 200, as the API does.
			const failed = job.status === 'done' &&
				Object.entries(job.counts).some(([k, n]) => n && k !== 'total' && k !== '200');
			if (failed && session.role !== 'read-only') {
				const resume = el('button', { type: 'button' }, 'Resume');
				resume.addEventListener('click', async () => {
					try {
						await api('/api/v1/jobs/' + job.id + '/resume', { method: 'POST' });
						document.getElementById('status').textContent = 'Job ' + job.id + ' queued again.';
						await load();
					} catch (e) {
						showError(e.message);
					}
				});
				actions.append(' ', resume);
			}
			body.append(el('tr', { 'data-job': String(job.id) }, el('td', {}, String(job.id)), el('td', {}, target(job)),
				el('td', { class: 'state' }, job.status), el('td', {}, bar, ' ', done + ' / ' + total),
				el('td', { class: 'results' }, results(job)), el('td', {}, job.actor),
				el('td', {}, when(job.started)), actions));
			if (job.status !== 'done')
				live = true;
			if (open === job.id)
				await showItems(job);
		}
		if (!j.items.length)
			body.append(el('tr', {}, el('td', { colspan: '8' }, 'No jobs yet.')));
		clearTimeout(timer);
		if (live)
			timer = setTimeout(() => load().catch((e) => showError(e.message)), 1000);
	}

	async function start(ev) {
		ev.preventDefault();
		showError('');
		const f = ev.target;
		const req = { kind: 'reprovision', rate: Number(f.rate.value) };
		if (f.target.value === 'device')
			req.device = f.mac.value.trim();
		else
			req.tenant = f.tenant.value;
		if (f.target.value === 'drifted')
			req.drifted = true;
		try {
			const j = await api('/api/v1/jobs', { method: 'POST', headers: { 'Content-Type': 'application/json' },
				body: JSON.stringify(req) });
			document.getElementById('status').textContent = 'Job ' + j.id + ' ' + j.status + ': ' + target(j) + '.';
			open = j.id;
			await load();
		} catch (e) {
			showError(e.message);
		}
	}

	(window.sipprovPages = window.sipprovPages || {}).jobs = async function () {
		const sel = document.getElementById('tenant');
		await tenants(sel);
		if (session.role === 'read-only')
			document.getElementById('start').hidden = true;
		document.getElementById('start').addEventListener('submit', start);
		sel.addEventListener('change', () => load().catch((e) => showError(e.message)));
		await load();
	};
})();
