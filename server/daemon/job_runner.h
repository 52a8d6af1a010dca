/*
 * job_runner.h: sipprovd's one background worker for jobs the admin API
 * queued (reprovision): its own thread and its own store handle, one job
 * at a time in id order.  It never answers HTTP; api_jobs.c queues.
 */
#ifndef SP_JOB_RUNNER_H
#define SP_JOB_RUNNER_H
#include "core/sipprov.h"

struct job_runner;
/* Open its own store connection and start the thread; a job left running
 * by an earlier sipprovd is resumed first.  Borrows conf and key.  NULL
 * with err. */
struct job_runner *job_runner_start(const struct conf *conf, const unsigned char *key, char *err, size_t errlen);
/* A job was queued: look now rather than at the next poll.  Accepts NULL. */
void job_runner_wake(struct job_runner *w);
/* Stop the job in progress (its unsent items stay pending, the job
 * unfinished: the next start resumes it), join the thread, close.  Accepts
 * NULL. */
void job_runner_stop(struct job_runner *w);
#endif
