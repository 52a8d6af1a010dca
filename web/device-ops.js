// device-ops.js: the device page's operations: the config preview (secrets
// masked; "Reveal secrets" for admins, which sipprovd audits), Diagnose (one
// POST /ticket with probes: the steps, the verdict and the escalation ticket
// from the same run) and Copy.  Every value goes in as text.  It decides no
// permission: the button only hides what sipprovd would refuse anyway.
'use strict';

(function () {
	const $ = (id) => document.getElementById(id);
	const mac = new URLSearchParams(location.search).get('mac') || '';
	const base = '/api/v1/devices/' + encodeURIComponent(mac);
	let csrf = '';

	function text(tag, s, cls) {
		const e = document.createElement(tag);
		if (cls)
			e.className = cls;
		e.textContent = s === null || s === undefined ? '' : String(s);
		return e;
	}

	// Errors as data: {"error":{"message"}}, else the status.
	async function call(path, opts) {
		const r = await fetch(path, Object.assign({ credentials: 'same-origin' }, opts || {}));
		const body = await r.text();
		if (!r.ok) {
			let msg = 'HTTP ' + r.status;
			try {
				msg = JSON.parse(body).error.message;
			} catch (e) { /* not JSON: keep the status */ }
			throw new Error(msg);
		}
		return body;
	}

	async function preview(secrets) {
		$('preview').textContent = await call(base + '/render' + (secrets ? '?secrets=true' : ''));
		$('preview-note').textContent = secrets ? 'Secrets shown (this reveal is in the audit log under your name).'
			: 'Secrets masked as ********.';
	}

	function revealButton() {
		const b = text('button', 'Reveal secrets');
		b.type = 'button';
		b.id = 'reveal';
		let shown = false;
		b.addEventListener('click', async () => {
			try {
				await preview(!shown);
				shown = !shown;
				b.textContent = shown ? 'Mask secrets' : 'Reveal secrets';
			} catch (e) {
				$('error').textContent = e.message;
			}
		});
		$('reveal-box').replaceChildren(b);
	}

	// The escalation summary as `sipprov ticket` prints it.
	function ticketText(d) {
		const or = (s, dflt) => (s ? s : dflt);
		const L = [];
		L.push('escalation summary for ' + d.mac + ' line ' + d.line + ' (tenant ' + d.tenant + ')');
		L.push('last error code:     ' + (d.last_code ? d.last_code + ' at ' + d.last_code_at : 'none seen'));
		L.push('affected user:       ' + or(d.username, '-') + ' (auth username ' + or(d.auth_username, '-') + ')');
		L.push('device model:        ' + or(d.model, 'unknown'));
		L.push('firmware:            ' + d.firmware);
		L.push('source network:      last fetch ' + or(d.source_fetch_ip, '-') + ' (' + or(d.network_fetch, 'unknown') +
			') at ' + d.last_fetch_at + '; last registration from ' + or(d.source_registration_ip, '-') + ' (' +
			or(d.network_registration, 'unknown') + ')');
		if (d.last_reason || d.last_reason_detail)
			L.push('registrar said:      ' + d.last_reason + (d.last_reason_detail ? '; ' + d.last_reason_detail : ''));
		L.push('registrar:           ' + or(d.registrar, '-'));
		if (d.server || d.outbound_proxy)
			L.push('server / proxy:      ' + or(d.server, '-') + ' / ' + or(d.outbound_proxy, '-'));
		L.push('transport / port:    ' + d.transport + ' / ' + d.port);
		L.push('template version:    ' + d.template_version + '; device last fetched v' + d.version_fetched);
		L.push('phone runs:          ' + d.runs_target + ' (current: ' + d.current_target + ')');
		L.push('');
		L.push('steps already run (' + (d.network_steps_run ? 'with network probes' : 'no network probes') + '):');
		for (const s of d.steps) {
			L.push(s.step + '. ' + s.name + '  ' + s.verdict);
			if (s.verdict === 'skipped' && s.reason)
				L.push('     skipped: ' + s.reason);
			for (const ev of (s.evidence || '').split('\n'))
				if (ev)
					L.push('     ' + ev);
		}
		L.push('');
		L.push('verdict: ' + (d.bucket && d.bucket !== 'none' ? d.bucket + ' (bucket chosen from ' + d.bucket_from + ')'
			: 'no failure found'));
		d.causes.forEach((c, i) => {
			L.push('  ' + (i + 1) + '. ' + c.title + (!c.indicated ? ' (not indicated)' : c.ruled_out ? ' (indicated, but ruled out)' : ''));
			if (c.indicated)
				L.push('     evidence: ' + c.evidence);
		});
		if (d.next_step)
			L.push('next step: ' + d.next_step);
		return L.join('\n') + '\n';
	}

	function showReport(d) {
		const noFailure = !d.bucket || d.bucket === 'none';
		const first = d.causes.find((c) => c.cause === d.first_cause);
		const dl = $('verdict');
		dl.replaceChildren();
		for (const [k, v] of [['Verdict', noFailure ? 'no failure found' : d.bucket],
			['Most likely cause', first ? first.title : (noFailure ? '-' : 'not explained by any step')],
			['Next step', d.next_step || '-'], ['Probes', d.network_steps_run ? 'run (' + d.network_ms + ' ms)' : 'not run']]) {
			dl.append(text('dt', k), text('dd', v));
		}
		const body = document.querySelector('#steps tbody');
		body.replaceChildren();
		for (const s of d.steps) {
			const tr = document.createElement('tr');
			tr.append(text('td', String(s.step)), text('td', s.name), text('td', s.verdict, 'verdict-' + s.verdict),
				text('td', s.verdict === 'skipped' && s.reason ? 'skipped: ' + s.reason + (s.evidence ? '\n' + s.evidence : '')
					: s.evidence, 'evidence'));
			body.append(tr);
		}
		$('ticket').value = ticketText(d);
		$('diag-result').hidden = false;
	}

	async function diagnose() {
		const b = $('diagnose');
		b.disabled = true;
		$('diag-status').textContent = 'Diagnosing: probes take a few seconds…';
		try {
			const body = await call(base + '/ticket', { method: 'POST', headers: { 'Content-Type': 'application/json',
				'X-CSRF-Token': csrf }, body: JSON.stringify({ probe: true, timeout: 2 }) });
			showReport(JSON.parse(body));
			$('diag-status').textContent = 'Done.';
		} catch (e) {
			$('diag-status').textContent = '';
			$('error').textContent = 'diagnose: ' + e.message;
		} finally {
			b.disabled = false;
		}
	}

	async function copy() {
		const t = $('ticket');
		let done = false;
		try {
			await navigator.clipboard.writeText(t.value);
			done = true;
		} catch (e) {
			t.select();
			done = document.execCommand('copy');
		}
		$('copy-status').textContent = done ? 'Copied.' : 'Select the text and copy it.';
	}

	document.addEventListener('sipprov:page', async (ev) => {
		if (document.body.dataset.page !== 'device')
			return;
		csrf = ev.detail.csrf;
		// Only an admin may see secrets (sipprovd refuses others with 403).
		if (ev.detail.role === 'admin')
			revealButton();
		$('diagnose').addEventListener('click', diagnose);
		$('copy').addEventListener('click', copy);
		try {
			await preview(false);
		} catch (e) {
			$('preview').textContent = '';
			$('error').textContent = 'config preview: ' + e.message;
		}
	});
})();
