/*
 * cmd_diagnose.c: `sipprov diagnose` (the 403/404/408/timeout checklist
 * with probes) and `sipprov ticket` (the escalation summary a provider
 * asks for).  Printing only: the steps and the verdict are diagnose.c's.
 * Neither prints a password: the report never holds one.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "ops/ops.h"
#include "core/sipprov.h"

#define DIAG_USAGE "diagnose MAC [--line N] [--error 403|404|408|timeout] [--timeout SECONDS] " \
	"[--offline] [--ca FILE] [--json]"
#define TICKET_USAGE "ticket MAC [--line N] [--probe] [--timeout SECONDS] [--ca FILE] [--json]"

static void when(int64_t t, char *out, size_t n)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!t || !gmtime_r(&tt, &tm))
		sp_strlcpy(out, "never", n);
	else
		strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void print_indented(const char *text, const char *indent)
{
	const char *p = text;
	while (*p) {
		size_t l = strcspn(p, "\n");
		printf("%s%.*s\n", indent, (int)l, p);
		p += l;
		if (*p)
			p++;
	}
}

static void print_steps(const struct diag_report *rep)
{
	for (int i = 0; i < DS_COUNT; i++) {
		const struct diag_step *s = &rep->steps[i];
		printf("%d. %-38s %s\n", i + 1, s->name, diag_verdict_name(s->verdict));
		if (s->verdict == DIAG_SKIPPED)
			printf("     skipped: %s\n", s->reason);
		if (s->evidence[0])
			print_indented(s->evidence, "     ");
	}
}

static void print_verdict(const struct diag_report *rep, bool error_timeout)
{
	const struct diag_result *r = &rep->result;
	if (!r->bucket) {
		printf("\nverdict: no failure found%s\n", diag_failed(rep) ? " to classify (see the failed steps)" : "");
		return;
	}
	printf("\nverdict: %s%s (bucket chosen from %s)\n", r->bucket_name,
	       error_timeout ? " (timeout)" : "", r->bucket_from);
	if (!r->explained)
		printf("no step explains this %s: the causes below are only the usual suspects\n", r->bucket_name);
	printf("likely causes, most likely first:\n");
	for (size_t i = 0; i < r->ncauses; i++) {
		const struct diag_cause *c = &r->causes[i];
		printf("  %zu. %s%s\n", i + 1, c->title, !c->score ? " (not indicated)" :
		       c->score < 20 ? " (indicated, but ruled out)" : "");
		if (c->score)
			printf("     evidence: %s\n", c->evidence);
	}
	if (r->ncauses)
		printf("next step: %s\n", r->causes[0].next);
}

static int common(struct cli *c, int argc, char **argv, bool ticket)
{
	const char *error = NULL, *ca = NULL;
	long line = 0, timeout = 3;
	bool offline = false, probe = false;
	char *pos[1];
	int npos, rc;
	struct cli_opt opts[] = {
		{ "--line", OPT_LONG, &line, 1, SP_MAX_LINES },
		{ "--error", OPT_STR, &error, 0, 0 },
		{ "--timeout", OPT_LONG, &timeout, 1, 60 },
		{ "--offline", OPT_FLAG, &offline, 0, 0 },
		{ "--probe", OPT_FLAG, &probe, 0, 0 },
		{ "--ca", OPT_STR, &ca, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	const char *usage = ticket ? TICKET_USAGE : DIAG_USAGE;
	struct diag_opts o = { 0 };
	struct diag_report *rep;
	char err[SP_ERR_MAX];

	if ((rc = cli_parse(argc, argv, opts, pos, 1, &npos, usage)))
		return rc;
	if (npos != 1)
		return cli_usage(usage);
	if (ticket ? error || offline : probe)
		return cli_usage(usage);
	o.line = line;
	if (error) {
		o.error_code = diag_parse_error(error);
		if (o.error_code < 0) {
			fprintf(stderr, "error: --error must be 403, 404, 408 or timeout, got '%s'\n", error);
			return cli_usage(usage);
		}
		o.error_timeout = !strcmp(error, "timeout");
	}
	o.timeout_ms = timeout * 1000;
	o.network = ticket ? probe : !offline;
	o.ca_file = ca;
	if ((rc = cli_open(c)))
		return rc;
	o.key = c->have_key ? c->key : NULL;
	rep = xcalloc(1, sizeof(*rep));
	if (diagnose_run(c->store, pos[0], &o, rep, err, sizeof(err)) < 0) {
		free(rep);
		return cli_fail("%s", err);
	}
	rc = diag_exit_code(rep, o.error_code) ? EXIT_USER : 0;
	if (c->json) {
		json_t *doc = diag_report_json(rep, ticket);
		json_object_set_new(doc, "error_given", json_string(error ? error : ""));
		json_object_set_new(doc, "exit_code", json_integer(ticket ? 0 : rc));
		json_object_set_new(doc, "network_steps_run", json_boolean(o.network));
		cli_json_out(doc);
		free(rep);
		return ticket ? 0 : rc;
	}
	const struct diag_facts *f = &rep->facts;
	if (ticket) {
		char t1[40], t2[40];
		when(f->last_code_at, t1, sizeof(t1));
		when(f->fetched_at, t2, sizeof(t2));
		printf("escalation summary for %s line %ld (tenant %s)\n", f->mac, f->line, f->tenant);
		if (f->last_code)
			printf("last error code:     %ld at %s\n", f->last_code, t1);
		else
			printf("last error code:     none seen\n");
		printf("affected user:       %s (auth username %s)%s%s\n", f->username[0] ? f->username : "-",
		       f->auth_username[0] ? f->auth_username : "-", f->display_name[0] ? ", " : "", f->display_name);
		printf("device model:        %s\n", f->model[0] ? f->model : "unknown");
		printf("firmware:            %s\n", f->firmware);
		printf("source network:      last fetch %s (%s) at %s; last registration from %s (%s)\n",
		       f->fetched_ip[0] ? f->fetched_ip : "-", f->net_fetch[0] ? f->net_fetch : "unknown", t2,
		       f->last_reg_ip[0] ? f->last_reg_ip : "-", f->net_reg[0] ? f->net_reg : "unknown");
		if (f->last_reason[0] || f->last_reason_detail[0])
			printf("registrar said:      %s%s%s\n", f->last_reason, f->last_reason_detail[0] ? "; " : "",
			       f->last_reason_detail);
		printf("registrar:           %s\n", f->registrar[0] ? f->registrar : "-");
		if (f->server[0] || f->outbound_proxy[0])
			printf("server / proxy:      %s / %s\n", f->server[0] ? f->server : "-",
			       f->outbound_proxy[0] ? f->outbound_proxy : "-");
		printf("transport / port:    %s / %ld\n", f->transport, f->port);
		if (f->last_reg_transport[0])
			printf("last seen using:     %s to %s:%ld\n", f->last_reg_transport, f->last_reg_registrar,
			       f->last_reg_port);
		printf("template version:    %s; device last fetched v%ld\n", f->version_label, f->version_served);
		printf("phone runs:          %s (current: %s)\n", f->runs_target, f->cur_target);
		printf("\nsteps already run (%s):\n", o.network ? "with network probes" :
		       "no network probes; add --probe to run them");
		print_steps(rep);
		print_verdict(rep, o.error_timeout);
		free(rep);
		return 0;
	}
	printf("diagnose %s line %ld (tenant %s, user %s)\n", f->mac, f->line, f->tenant,
	       f->username[0] ? f->username : "-");
	printf("sends to %s over %s port %ld\n\n", f->outbound_proxy[0] ? f->outbound_proxy :
	       f->server[0] ? f->server : f->registrar, f->transport, f->port);
	print_steps(rep);
	print_verdict(rep, o.error_timeout);
	if (rep->network_bound_ms)
		printf("network steps took %ld ms (bound %ld ms: %ld s per probe)\n", rep->network_ms,
		       rep->network_bound_ms, timeout);
	free(rep);
	return rc;
}

int cmd_diagnose(struct cli *c, int argc, char **argv)
{
	return common(c, argc, argv, false);
}

int cmd_ticket(struct cli *c, int argc, char **argv)
{
	return common(c, argc, argv, true);
}
