/* join: a minimal C client of otc-session.
 *
 *   ./join '<token>' [client-data]
 *
 * Joins the session of the token and prints every event with a timestamp. Each line typed on stdin is
 * sent as a "chat" signal to everyone; "kick <connectionId>" force-disconnects a client (needs a
 * MODERATOR token); "who" lists the other clients; "quit" (or end of input) leaves.
 * Build: see Makefile in this directory (`make`), after `cargo build --lib` at the repository root. */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "otc_session.h"

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static int session_over = 0;

/* Prints one line prefixed with the wall-clock time (HH:MM:SS.mmm). */
static void say(const char *fmt, ...) {
  struct timespec now;
  struct tm local;
  char stamp[16];
  va_list args;
  clock_gettime(CLOCK_REALTIME, &now);
  localtime_r(&now.tv_sec, &local);
  strftime(stamp, sizeof stamp, "%H:%M:%S", &local);
  flockfile(stdout);
  printf("%s.%03ld ", stamp, now.tv_nsec / 1000000L);
  va_start(args, fmt);
  vprintf(fmt, args);
  va_end(args);
  printf("\n");
  fflush(stdout);
  funlockfile(stdout);
}

static const char *reason_name(enum otc_disconnect_reason reason) {
  switch (reason) {
    case OTC_DISCONNECT_REASON_CLIENT_DISCONNECTED: return "client disconnected";
    case OTC_DISCONNECT_REASON_FORCE_DISCONNECTED_BY_MODERATOR: return "forced out by a moderator";
    case OTC_DISCONNECT_REASON_FORCE_DISCONNECTED_BY_SERVER: return "forced out by the server";
    case OTC_DISCONNECT_REASON_SESSION_CLOSED: return "session closed";
    case OTC_DISCONNECT_REASON_NETWORK_LOST: return "network lost";
    case OTC_DISCONNECT_REASON_SERVER_STOPPED: return "server stopped";
    default: return "unknown";
  }
}

static void on_connected(otc_session *session, void *user_data) {
  const otc_connection *own = otc_session_get_connection(session);
  (void)user_data;
  say("connected to %s as %s", otc_session_get_id(session), own ? otc_connection_get_id(own) : "?");
}

static void on_disconnected(otc_session *session, void *user_data, enum otc_disconnect_reason reason) {
  (void)session;
  (void)user_data;
  say("disconnected: %s", reason_name(reason));
  pthread_mutex_lock(&state_lock);
  session_over = 1;
  pthread_mutex_unlock(&state_lock);
}

static void on_connection_created(otc_session *session, void *user_data, const otc_connection *connection) {
  (void)session;
  (void)user_data;
  say("+ %s joined (data \"%s\")", otc_connection_get_id(connection), otc_connection_get_data(connection));
}

static void on_connection_dropped(otc_session *session, void *user_data, const otc_connection *connection,
                                  enum otc_disconnect_reason reason) {
  (void)session;
  (void)user_data;
  say("- %s left: %s", otc_connection_get_id(connection), reason_name(reason));
}

static void on_signal_received(otc_session *session, void *user_data, const char *type, const char *data,
                               const otc_connection *from) {
  (void)session;
  (void)user_data;
  say("signal [%s] from %s: %s", type, from ? otc_connection_get_id(from) : "the server", data);
}

static void on_reconnection_started(otc_session *session, void *user_data) {
  (void)session;
  (void)user_data;
  say("network lost, reconnecting...");
}

static void on_reconnected(otc_session *session, void *user_data) {
  (void)session;
  (void)user_data;
  say("reconnected");
}

static void on_error(otc_session *session, void *user_data, const char *error_string, otc_status code) {
  (void)session;
  (void)user_data;
  say("error %d: %s", (int)code, error_string);
  pthread_mutex_lock(&state_lock);
  if (code == OTC_SESSION_AUTHORIZATION_FAILURE || code == OTC_SESSION_INVALID_SESSION ||
      code == OTC_SESSION_CONNECTION_FAILED || code == OTC_SESSION_CONNECTION_TIMED_OUT ||
      code == OTC_SESSION_CONNECTION_REFUSED) {
    session_over = 1; /* the connect attempt failed */
  }
  pthread_mutex_unlock(&state_lock);
}

/* The sessionId=... query parameter of a token URL, malloc'd (NULL when absent). */
static char *session_id_of(const char *token) {
  const char *start = strstr(token, "sessionId=");
  size_t len;
  char *id;
  if (start == NULL) {
    return NULL;
  }
  start += strlen("sessionId=");
  len = strcspn(start, "&");
  id = malloc(len + 1);
  if (id != NULL) {
    memcpy(id, start, len);
    id[len] = '\0';
  }
  return id;
}

static void kick(otc_session *session, const char *connection_id) {
  otc_roster *roster = NULL;
  size_t i;
  int found = 0;
  if (otc_session_get_roster(session, &roster) != OTC_SUCCESS) {
    say("cannot read the roster");
    return;
  }
  for (i = 0; i < otc_roster_get_count(roster); i++) {
    const otc_connection *c = otc_roster_get_connection(roster, i);
    if (strcmp(otc_connection_get_id(c), connection_id) == 0) {
      otc_status status = otc_session_force_disconnect(session, c);
      found = 1;
      if (status != OTC_SUCCESS) {
        say("kick refused: %s", otc_status_str(status));
      }
    }
  }
  if (!found) {
    say("no client %s in the session", connection_id);
  }
  otc_roster_delete(roster);
}

static void who(otc_session *session) {
  otc_roster *roster = NULL;
  size_t i;
  if (otc_session_get_roster(session, &roster) != OTC_SUCCESS) {
    return;
  }
  say("%zu other client(s)", otc_roster_get_count(roster));
  for (i = 0; i < otc_roster_get_count(roster); i++) {
    const otc_connection *c = otc_roster_get_connection(roster, i);
    say("  %s \"%s\"", otc_connection_get_id(c), otc_connection_get_data(c));
  }
  otc_roster_delete(roster);
}

static int is_over(void) {
  int over;
  pthread_mutex_lock(&state_lock);
  over = session_over;
  pthread_mutex_unlock(&state_lock);
  return over;
}

int main(int argc, char **argv) {
  struct otc_session_callbacks callbacks = OTC_SESSION_CALLBACKS_INIT;
  otc_session_settings *settings;
  otc_session *session;
  char *session_id;
  char line[8300];
  otc_status status;

  if (argc < 2) {
    fprintf(stderr, "usage: %s '<token>' [client-data]\n", argv[0]);
    return 2;
  }
  session_id = session_id_of(argv[1]);
  if (session_id == NULL) {
    fprintf(stderr, "the token has no sessionId parameter\n");
    return 2;
  }
  callbacks.on_connected = on_connected;
  callbacks.on_disconnected = on_disconnected;
  callbacks.on_connection_created = on_connection_created;
  callbacks.on_connection_dropped = on_connection_dropped;
  callbacks.on_signal_received = on_signal_received;
  callbacks.on_reconnection_started = on_reconnection_started;
  callbacks.on_reconnected = on_reconnected;
  callbacks.on_error = on_error;

  settings = otc_session_settings_new();
  if (argc > 2 && otc_session_settings_set_client_data(settings, argv[2]) != OTC_SUCCESS) {
    fprintf(stderr, "invalid client data\n");
  }
  session = otc_session_new_with_settings(NULL, session_id, &callbacks, settings);
  otc_session_settings_delete(settings);
  free(session_id);
  if (session == NULL) {
    fprintf(stderr, "cannot create the session\n");
    return 1;
  }
  say("otc-session %s, joining...", otc_version());
  status = otc_session_connect(session, argv[1]);
  if (status != OTC_SUCCESS) {
    say("connect refused: %s", otc_status_str(status));
    otc_session_delete(session);
    return 1;
  }

  while (!is_over()) {
    struct pollfd input = {STDIN_FILENO, POLLIN, 0};
    size_t len;
    if (poll(&input, 1, 200) <= 0) {
      continue;
    }
    if (fgets(line, sizeof line, stdin) == NULL || strncmp(line, "quit", 4) == 0) {
      status = otc_session_disconnect(session);
      if (status != OTC_SUCCESS) {
        break; /* not connected (yet): nothing to leave */
      }
      while (!is_over()) {
        poll(NULL, 0, 50);
      }
      break;
    }
    len = strcspn(line, "\r\n");
    line[len] = '\0';
    if (len == 0) {
      continue;
    }
    if (strncmp(line, "kick ", 5) == 0) {
      kick(session, line + 5);
    } else if (strcmp(line, "who") == 0) {
      who(session);
    } else if ((status = otc_session_send_signal(session, "chat", line)) != OTC_SUCCESS) {
      say("signal not sent: %s", otc_status_str(status));
    }
  }
  otc_session_delete(session);
  return 0;
}
