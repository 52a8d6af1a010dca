/*
 * sdnotify.h: tell the service manager about our state (readiness,
 * stopping) through the sd_notify datagram protocol, without libsystemd.
 */
#ifndef SP_SDNOTIFY_H
#define SP_SDNOTIFY_H

/* Send STATE ("READY=1", "STOPPING=1", ...) to the socket named by
 * $NOTIFY_SOCKET.  Returns 1 sent, 0 no socket to tell (not run by a
 * service manager), -1 on error (logged). */
int sdnotify_send(const char *state);

#endif
