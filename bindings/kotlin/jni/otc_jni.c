/*
 * JNI glue between io.otc.session (Kotlin) and the C API in include/otc_session.h.
 *
 * Marshalling only: pointers travel as jlong, strings as NUL-terminated UTF-8 byte arrays (JNI's own string
 * functions use "modified UTF-8"), statuses as jint. Threads:
 *   - JNI_OnLoad caches the JavaVM, the EventSink class and its method ids (no FindClass on native threads).
 *   - The library's dispatcher thread is attached ONCE, as a daemon, on its first callback; a pthread key
 *     destructor detaches it when the thread exits.
 *   - Each session's EventSink is a global reference held in the callbacks' user_data and deleted in
 *     on_release, which the library calls exactly once, after the session's last callback.
 */
#include <jni.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otc_session.h"

/* ---- cached VM, class and method ids ---------------------------------------------------------------- */

static JavaVM *g_vm;
static jclass g_sink_class;
static jmethodID g_on_connected, g_on_disconnected, g_on_connection_created, g_on_connection_dropped,
    g_on_signal, g_on_reconnecting, g_on_reconnected, g_on_error;

/* Sessions whose release hook has not run yet (Session.liveNativeSessions). */
static atomic_int g_live_sessions;

static pthread_key_t g_detach_key;
static pthread_once_t g_detach_key_once = PTHREAD_ONCE_INIT;

/* Runs when a thread this shim attached exits: detaches it from the VM. */
static void detach_thread(void *marker) {
    (void)marker;
    if (g_vm != NULL) (*g_vm)->DetachCurrentThread(g_vm);
}

static void create_detach_key(void) { pthread_key_create(&g_detach_key, detach_thread); }

/* The JNIEnv of the calling thread, attaching it as a daemon the first time (NULL if that fails). */
static JNIEnv *env_for_this_thread(void) {
    JNIEnv *env = NULL;
    jint got = (*g_vm)->GetEnv(g_vm, (void **)&env, JNI_VERSION_1_8);
    if (got == JNI_OK) return env;
    if (got != JNI_EDETACHED) return NULL;
    JavaVMAttachArgs args = {JNI_VERSION_1_8, "otc-session-dispatcher", NULL};
    if ((*g_vm)->AttachCurrentThreadAsDaemon(g_vm, (void **)&env, &args) != JNI_OK) return NULL;
    pthread_once(&g_detach_key_once, create_detach_key);
    pthread_setspecific(g_detach_key, (void *)1); /* non-NULL so that the destructor runs */
    return env;
}

static int cache_method(JNIEnv *env, jmethodID *out, const char *name, const char *signature) {
    *out = (*env)->GetMethodID(env, g_sink_class, name, signature);
    return *out != NULL;
}

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
    (void)reserved;
    JNIEnv *env = NULL;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_8) != JNI_OK) return JNI_ERR;
    g_vm = vm;
    jclass local = (*env)->FindClass(env, "io/otc/session/EventSink");
    if (local == NULL) return JNI_ERR;
    g_sink_class = (*env)->NewGlobalRef(env, local);
    (*env)->DeleteLocalRef(env, local);
    if (g_sink_class == NULL) return JNI_ERR;
    int ok = cache_method(env, &g_on_connected, "onConnected", "()V") &&
             cache_method(env, &g_on_disconnected, "onDisconnected", "(Ljava/lang/String;)V") &&
             cache_method(env, &g_on_connection_created, "onConnectionCreated", "(J)V") &&
             cache_method(env, &g_on_connection_dropped, "onConnectionDropped", "(JLjava/lang/String;)V") &&
             cache_method(env, &g_on_signal, "onSignal", "([B[BJ)V") &&
             cache_method(env, &g_on_reconnecting, "onReconnecting", "()V") &&
             cache_method(env, &g_on_reconnected, "onReconnected", "()V") &&
             cache_method(env, &g_on_error, "onError", "([BI)V");
    return ok ? JNI_VERSION_1_8 : JNI_ERR;
}

/* ---- marshalling helpers ------------------------------------------------------------------------------ */

/* A Java byte[] holding a NUL-terminated UTF-8 string, pinned as a C string. */
struct c_string {
    jbyteArray array;
    jbyte *bytes;
};

/* Pins `array` (NULL stays NULL). Returns 0 when the array is not NUL-terminated. */
static int c_string_open(JNIEnv *env, jbyteArray array, struct c_string *out) {
    out->array = array;
    out->bytes = NULL;
    if (array == NULL) return 1;
    jsize len = (*env)->GetArrayLength(env, array);
    if (len == 0) return 0;
    out->bytes = (*env)->GetByteArrayElements(env, array, NULL);
    if (out->bytes == NULL) return 0;
    if (out->bytes[len - 1] != 0) {
        (*env)->ReleaseByteArrayElements(env, array, out->bytes, JNI_ABORT);
        out->bytes = NULL;
        return 0;
    }
    return 1;
}

static const char *c_string_get(const struct c_string *s) { return (const char *)s->bytes; }

static void c_string_close(JNIEnv *env, struct c_string *s) {
    if (s->bytes != NULL) (*env)->ReleaseByteArrayElements(env, s->array, s->bytes, JNI_ABORT);
    s->bytes = NULL;
}

/* Copies a C string into a new byte[] (without the NUL); NULL gives NULL. */
static jbyteArray to_java_bytes(JNIEnv *env, const char *s) {
    if (s == NULL) return NULL;
    jsize len = (jsize)strlen(s);
    jbyteArray array = (*env)->NewByteArray(env, len);
    if (array != NULL) (*env)->SetByteArrayRegion(env, array, 0, len, (const jbyte *)s);
    return array;
}

/* The Kotlin DisconnectReason constant name of a C reason. */
static const char *reason_name(enum otc_disconnect_reason reason) {
    switch (reason) {
    case OTC_DISCONNECT_REASON_CLIENT_DISCONNECTED: return "CLIENT_DISCONNECTED";
    case OTC_DISCONNECT_REASON_FORCE_DISCONNECTED_BY_MODERATOR: return "FORCE_DISCONNECTED_BY_MODERATOR";
    case OTC_DISCONNECT_REASON_FORCE_DISCONNECTED_BY_SERVER: return "FORCE_DISCONNECTED_BY_SERVER";
    case OTC_DISCONNECT_REASON_SESSION_CLOSED: return "SESSION_CLOSED";
    case OTC_DISCONNECT_REASON_NETWORK_LOST: return "NETWORK_LOST";
    case OTC_DISCONNECT_REASON_SERVER_STOPPED: return "SERVER_STOPPED";
    default: return "UNKNOWN";
    }
}

static jlong to_handle(const void *p) { return (jlong)(intptr_t)p; }
static void *from_handle(jlong h) { return (void *)(intptr_t)h; }

/* ---- callbacks (the library's dispatcher thread) ------------------------------------------------------ */

/* A listener that throws must not unwind into the library: report it and go on. */
static void report_exception(JNIEnv *env) {
    if ((*env)->ExceptionCheck(env)) {
        (*env)->ExceptionDescribe(env);
        (*env)->ExceptionClear(env);
    }
}

static void on_connected(otc_session *session, void *user_data) {
    (void)session;
    JNIEnv *env = env_for_this_thread();
    if (env == NULL) return;
    (*env)->CallVoidMethod(env, (jobject)user_data, g_on_connected);
    report_exception(env);
}

static void on_disconnected(otc_session *session, void *user_data, enum otc_disconnect_reason reason) {
    (void)session;
    JNIEnv *env = env_for_this_thread();
    if (env == NULL) return;
    jstring name = (*env)->NewStringUTF(env, reason_name(reason));
    if (name != NULL) (*env)->CallVoidMethod(env, (jobject)user_data, g_on_disconnected, name);
    report_exception(env);
    if (name != NULL) (*env)->DeleteLocalRef(env, name);
}

static void on_connection_created(otc_session *session, void *user_data, const otc_connection *connection) {
    (void)session;
    JNIEnv *env = env_for_this_thread();
    if (env == NULL) return;
    otc_connection *copy = otc_connection_copy(connection); /* owned by the Kotlin Connection from now on */
    if (copy == NULL) return;
    (*env)->CallVoidMethod(env, (jobject)user_data, g_on_connection_created, to_handle(copy));
    report_exception(env);
}

static void on_connection_dropped(otc_session *session, void *user_data, const otc_connection *connection,
                                  enum otc_disconnect_reason reason) {
    (void)session;
    JNIEnv *env = env_for_this_thread();
    if (env == NULL) return;
    otc_connection *copy = otc_connection_copy(connection);
    if (copy == NULL) return;
    jstring name = (*env)->NewStringUTF(env, reason_name(reason));
    if (name == NULL) {
        otc_connection_delete(copy);
        report_exception(env);
        return;
    }
    (*env)->CallVoidMethod(env, (jobject)user_data, g_on_connection_dropped, to_handle(copy), name);
    report_exception(env);
    (*env)->DeleteLocalRef(env, name);
}

static void on_signal_received(otc_session *session, void *user_data, const char *type, const char *data,
                               const otc_connection *from) {
    (void)session;
    JNIEnv *env = env_for_this_thread();
    if (env == NULL) return;
    jbyteArray jtype = to_java_bytes(env, type != NULL ? type : "");
    jbyteArray jdata = to_java_bytes(env, data != NULL ? data : "");
    otc_connection *copy = from != NULL ? otc_connection_copy(from) : NULL;
    if (jtype != NULL && jdata != NULL) {
        (*env)->CallVoidMethod(env, (jobject)user_data, g_on_signal, jtype, jdata, to_handle(copy));
    } else {
        otc_connection_delete(copy);
    }
    report_exception(env);
    if (jtype != NULL) (*env)->DeleteLocalRef(env, jtype);
    if (jdata != NULL) (*env)->DeleteLocalRef(env, jdata);
}

static void on_reconnection_started(otc_session *session, void *user_data) {
    (void)session;
    JNIEnv *env = env_for_this_thread();
    if (env == NULL) return;
    (*env)->CallVoidMethod(env, (jobject)user_data, g_on_reconnecting);
    report_exception(env);
}

static void on_reconnected(otc_session *session, void *user_data) {
    (void)session;
    JNIEnv *env = env_for_this_thread();
    if (env == NULL) return;
    (*env)->CallVoidMethod(env, (jobject)user_data, g_on_reconnected);
    report_exception(env);
}

static void on_error(otc_session *session, void *user_data, const char *error_string, otc_status error_code) {
    (void)session;
    JNIEnv *env = env_for_this_thread();
    if (env == NULL) return;
    jbyteArray message = to_java_bytes(env, error_string);
    (*env)->CallVoidMethod(env, (jobject)user_data, g_on_error, message, (jint)error_code);
    report_exception(env);
    if (message != NULL) (*env)->DeleteLocalRef(env, message);
}

/* Called exactly once, after the session's last callback: drops the EventSink. */
static void on_release(void *user_data) {
    JNIEnv *env = env_for_this_thread();
    if (env != NULL) (*env)->DeleteGlobalRef(env, (jobject)user_data);
    atomic_fetch_sub(&g_live_sessions, 1);
}

/* ---- io.otc.session.Native ---------------------------------------------------------------------------- */

#define NATIVE(name) Java_io_otc_session_Native_##name

JNIEXPORT jbyteArray JNICALL NATIVE(statusString)(JNIEnv *env, jclass cls, jint status) {
    (void)cls;
    return to_java_bytes(env, otc_status_str(status));
}

JNIEXPORT jbyteArray JNICALL NATIVE(version)(JNIEnv *env, jclass cls) {
    (void)cls;
    return to_java_bytes(env, otc_version());
}

JNIEXPORT jlong JNICALL NATIVE(settingsNew)(JNIEnv *env, jclass cls) {
    (void)env, (void)cls;
    return to_handle(otc_session_settings_new());
}

JNIEXPORT void JNICALL NATIVE(settingsDelete)(JNIEnv *env, jclass cls, jlong settings) {
    (void)env, (void)cls;
    otc_session_settings_delete(from_handle(settings));
}

JNIEXPORT jint JNICALL NATIVE(settingsSetConnectionEventsSuppressed)(JNIEnv *env, jclass cls, jlong settings,
                                                                      jboolean suppressed) {
    (void)env, (void)cls;
    return otc_session_settings_set_connection_events_suppressed(from_handle(settings),
                                                                 suppressed ? OTC_TRUE : OTC_FALSE);
}

/* Milliseconds from Kotlin (Long) to the C API's uint32_t; out-of-range values are invalid parameters. */
static int millis_fit(jlong millis) { return millis >= 0 && millis <= (jlong)UINT32_MAX; }

JNIEXPORT jint JNICALL NATIVE(settingsSetConnectTimeoutMs)(JNIEnv *env, jclass cls, jlong settings, jlong ms) {
    (void)env, (void)cls;
    if (!millis_fit(ms)) return OTC_SESSION_NULL_OR_INVALID_PARAMETER;
    return otc_session_settings_set_connect_timeout(from_handle(settings), (uint32_t)ms);
}

JNIEXPORT jint JNICALL NATIVE(settingsSetPingIntervalMs)(JNIEnv *env, jclass cls, jlong settings, jlong ms) {
    (void)env, (void)cls;
    if (!millis_fit(ms)) return OTC_SESSION_NULL_OR_INVALID_PARAMETER;
    return otc_session_settings_set_ping_interval(from_handle(settings), (uint32_t)ms);
}

JNIEXPORT jint JNICALL NATIVE(settingsSetReconnectionWindowMs)(JNIEnv *env, jclass cls, jlong settings, jlong ms) {
    (void)env, (void)cls;
    if (!millis_fit(ms)) return OTC_SESSION_NULL_OR_INVALID_PARAMETER;
    return otc_session_settings_set_reconnection_window(from_handle(settings), (uint32_t)ms);
}

JNIEXPORT jint JNICALL NATIVE(settingsSetClientData)(JNIEnv *env, jclass cls, jlong settings, jbyteArray data) {
    (void)cls;
    struct c_string s;
    if (!c_string_open(env, data, &s)) return OTC_SESSION_NULL_OR_INVALID_PARAMETER;
    otc_status status = otc_session_settings_set_client_data(from_handle(settings), c_string_get(&s));
    c_string_close(env, &s);
    return status;
}

JNIEXPORT jint JNICALL NATIVE(settingsSetTrustedCaPem)(JNIEnv *env, jclass cls, jlong settings, jbyteArray pem) {
    (void)cls;
    struct c_string s;
    if (!c_string_open(env, pem, &s) || s.bytes == NULL) return OTC_SESSION_NULL_OR_INVALID_PARAMETER;
    otc_status status = otc_session_settings_add_ca_pem(from_handle(settings), (const uint8_t *)c_string_get(&s),
                                                        strlen(c_string_get(&s)));
    c_string_close(env, &s);
    return status;
}

JNIEXPORT jint JNICALL NATIVE(sessionNew)(JNIEnv *env, jclass cls, jbyteArray session_id, jlong settings,
                                          jobject sink, jlongArray out) {
    (void)cls;
    if (sink == NULL || out == NULL || (*env)->GetArrayLength(env, out) < 1) {
        return OTC_SESSION_NULL_OR_INVALID_PARAMETER;
    }
    struct c_string id;
    if (!c_string_open(env, session_id, &id)) return OTC_SESSION_NULL_OR_INVALID_PARAMETER;
    jobject global = (*env)->NewGlobalRef(env, sink);
    if (global == NULL) {
        c_string_close(env, &id);
        return OTC_SESSION_INTERNAL_ERROR;
    }
    struct otc_session_callbacks callbacks = OTC_SESSION_CALLBACKS_INIT;
    callbacks.user_data = global;
    callbacks.on_release = on_release;
    callbacks.on_connected = on_connected;
    callbacks.on_disconnected = on_disconnected;
    callbacks.on_connection_created = on_connection_created;
    callbacks.on_connection_dropped = on_connection_dropped;
    callbacks.on_signal_received = on_signal_received;
    callbacks.on_reconnection_started = on_reconnection_started;
    callbacks.on_reconnected = on_reconnected;
    callbacks.on_error = on_error;
    atomic_fetch_add(&g_live_sessions, 1);
    otc_session *session = otc_session_new_with_settings(NULL, c_string_get(&id), &callbacks, from_handle(settings));
    c_string_close(env, &id);
    if (session == NULL) {
        /* No session: the library never calls on_release, so drop the sink here. */
        (*env)->DeleteGlobalRef(env, global);
        atomic_fetch_sub(&g_live_sessions, 1);
        return OTC_SESSION_NULL_OR_INVALID_PARAMETER;
    }
    jlong handle = to_handle(session);
    (*env)->SetLongArrayRegion(env, out, 0, 1, &handle);
    return OTC_SUCCESS;
}

JNIEXPORT jint JNICALL NATIVE(sessionConnect)(JNIEnv *env, jclass cls, jlong session, jbyteArray token) {
    (void)cls;
    struct c_string s;
    if (!c_string_open(env, token, &s)) return OTC_SESSION_NULL_OR_INVALID_PARAMETER;
    otc_status status = otc_session_connect(from_handle(session), c_string_get(&s));
    c_string_close(env, &s);
    return status;
}

JNIEXPORT jint JNICALL NATIVE(sessionDisconnect)(JNIEnv *env, jclass cls, jlong session) {
    (void)env, (void)cls;
    return otc_session_disconnect(from_handle(session));
}

JNIEXPORT void JNICALL NATIVE(sessionDelete)(JNIEnv *env, jclass cls, jlong session) {
    (void)env, (void)cls;
    otc_session_delete(from_handle(session));
}

JNIEXPORT jint JNICALL NATIVE(sessionSendSignal)(JNIEnv *env, jclass cls, jlong session, jbyteArray type,
                                                 jbyteArray data, jlong connection, jboolean retry) {
    (void)cls;
    struct c_string t, d;
    if (!c_string_open(env, type, &t)) return OTC_SESSION_NULL_OR_INVALID_PARAMETER;
    if (!c_string_open(env, data, &d)) {
        c_string_close(env, &t);
        return OTC_SESSION_NULL_OR_INVALID_PARAMETER;
    }
    struct otc_signal_options options = {retry ? OTC_TRUE : OTC_FALSE};
    otc_status status;
    if (connection == 0) {
        status = otc_session_send_signal_with_options(from_handle(session), c_string_get(&t), c_string_get(&d),
                                                      options);
    } else {
        status = otc_session_send_signal_to_connection_with_options(from_handle(session), c_string_get(&t),
                                                                    c_string_get(&d), from_handle(connection),
                                                                    options);
    }
    c_string_close(env, &d);
    c_string_close(env, &t);
    return status;
}

JNIEXPORT jint JNICALL NATIVE(sessionForceDisconnect)(JNIEnv *env, jclass cls, jlong session, jlong connection) {
    (void)env, (void)cls;
    return otc_session_force_disconnect(from_handle(session), from_handle(connection));
}

JNIEXPORT jbyteArray JNICALL NATIVE(sessionId)(JNIEnv *env, jclass cls, jlong session) {
    (void)cls;
    return to_java_bytes(env, otc_session_get_id(from_handle(session)));
}

JNIEXPORT jlong JNICALL NATIVE(sessionConnection)(JNIEnv *env, jclass cls, jlong session) {
    (void)env, (void)cls;
    const otc_connection *own = otc_session_get_connection(from_handle(session));
    return own != NULL ? to_handle(otc_connection_copy(own)) : 0;
}

JNIEXPORT jlongArray JNICALL NATIVE(sessionConnections)(JNIEnv *env, jclass cls, jlong session, jintArray status_out) {
    (void)cls;
    if (status_out == NULL || (*env)->GetArrayLength(env, status_out) < 1) return NULL;
    otc_roster *roster = NULL;
    jint status = otc_session_get_roster(from_handle(session), &roster);
    (*env)->SetIntArrayRegion(env, status_out, 0, 1, &status);
    if (status != OTC_SUCCESS) return NULL;
    size_t count = otc_roster_get_count(roster);
    jlongArray out = (*env)->NewLongArray(env, (jsize)count);
    for (size_t i = 0; out != NULL && i < count; i++) {
        /* Each copy is owned by a Kotlin Connection from now on. */
        jlong copy = to_handle(otc_connection_copy(otc_roster_get_connection(roster, i)));
        (*env)->SetLongArrayRegion(env, out, (jsize)i, 1, &copy);
    }
    otc_roster_delete(roster);
    return out;
}

JNIEXPORT jint JNICALL NATIVE(sessionCapabilities)(JNIEnv *env, jclass cls, jlong session, jbooleanArray out) {
    (void)cls;
    if (out == NULL || (*env)->GetArrayLength(env, out) < 4) return OTC_SESSION_NULL_OR_INVALID_PARAMETER;
    struct otc_session_capabilities caps;
    otc_status status = otc_session_get_capabilities(from_handle(session), &caps);
    if (status != OTC_SUCCESS) return status;
    jboolean values[4] = {caps.publish != 0, caps.subscribe != 0, caps.force_disconnect != 0,
                          caps.force_unpublish != 0};
    (*env)->SetBooleanArrayRegion(env, out, 0, 4, values);
    return OTC_SUCCESS;
}

JNIEXPORT jint JNICALL NATIVE(liveSessions)(JNIEnv *env, jclass cls) {
    (void)env, (void)cls;
    return atomic_load(&g_live_sessions);
}

JNIEXPORT jbyteArray JNICALL NATIVE(connectionId)(JNIEnv *env, jclass cls, jlong c) {
    (void)cls;
    return to_java_bytes(env, otc_connection_get_id(from_handle(c)));
}

JNIEXPORT jbyteArray JNICALL NATIVE(connectionData)(JNIEnv *env, jclass cls, jlong c) {
    (void)cls;
    return to_java_bytes(env, otc_connection_get_data(from_handle(c)));
}

JNIEXPORT jbyteArray JNICALL NATIVE(connectionClientData)(JNIEnv *env, jclass cls, jlong c) {
    (void)cls;
    return to_java_bytes(env, otc_connection_get_client_data(from_handle(c)));
}

JNIEXPORT jbyteArray JNICALL NATIVE(connectionServerData)(JNIEnv *env, jclass cls, jlong c) {
    (void)cls;
    return to_java_bytes(env, otc_connection_get_server_data(from_handle(c)));
}

JNIEXPORT jbyteArray JNICALL NATIVE(connectionSessionId)(JNIEnv *env, jclass cls, jlong c) {
    (void)cls;
    return to_java_bytes(env, otc_connection_get_session_id(from_handle(c)));
}

JNIEXPORT jlong JNICALL NATIVE(connectionCreationTime)(JNIEnv *env, jclass cls, jlong c) {
    (void)env, (void)cls;
    return otc_connection_get_creation_time(from_handle(c));
}

JNIEXPORT void JNICALL NATIVE(connectionDelete)(JNIEnv *env, jclass cls, jlong c) {
    (void)env, (void)cls;
    otc_connection_delete(from_handle(c));
}
