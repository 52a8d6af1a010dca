// login.js: posts the login form as JSON and goes to the overview; the
// form still works without script (the daemon answers a form post with 303).
'use strict';
document.getElementById('login').addEventListener('submit', async (ev) => {
	ev.preventDefault();
	const err = document.getElementById('error');
	err.textContent = '';
	const body = JSON.stringify({
		name: document.getElementById('name').value,
		password: document.getElementById('password').value,
	});
	try {
		const r = await fetch('/ui/login', {
			method: 'POST', headers: { 'Content-Type': 'application/json' }, body,
			credentials: 'same-origin',
		});
		if (r.ok) {
			location.assign('/ui/');
			return;
		}
		const j = await r.json().catch(() => null);
		err.textContent = j && j.error ? j.error.message : 'login failed (' + r.status + ')';
	} catch (e) {
		err.textContent = 'cannot reach sipprovd: ' + e.message;
	}
});
