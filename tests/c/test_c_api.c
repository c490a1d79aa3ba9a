/*
 * The plughost C API, tested from C: every function declared in include/plughost.h, every status
 * code a C caller can provoke, callbacks with user data and destroy notifications, and threads.
 *
 * tests/c_api.rs builds and runs this program:
 *
 *   cc -std=c11 -Wall -Wextra -Werror -g -fsanitize=address,undefined -fno-omit-frame-pointer \
 *      -I include tests/c/test_c_api.c -L <dir> -lplughost -Wl,-rpath,<dir> -pthread
 *
 * (or, without the sanitizers, with -g under valgrind)
 *
 * with the fixtures in the environment:
 *
 *   PLUGHOST_TEST_DIR          a temporary folder with root/ (the trusted root), outside/ and shadow/
 *   PLUGHOST_TEST_COUNTER      the Rust counter module (1.0.0), installed under root/
 *   PLUGHOST_TEST_COUNTER_V2   the same module built as 2.0.0 (increment adds twice)
 *   PLUGHOST_TEST_GREETER      the C greeter module
 *   PLUGHOST_TEST_TLS_PINNED   a module that pins its library with a thread-local destructor
 *   PLUGHOST_TEST_NO_ENTRY, _ABI_MISMATCH, _SHORT_TABLE, _NULL_ENTRY, _MISSING_EXECUTE,
 *   _INIT_FAILS, _RESTORE_FAILS   the broken modules of tests/c/bad_modules.c
 *   PLUGHOST_TEST_IPC_PEER     examples/c/ipc_peer.c built: the C peer B of the IPC session tests
 *   PLUGHOST_TEST_PLUGIN_C     examples/c/plugin_c.c built: the plugin of the host-side plugin tests
 *
 * Every check counts; a failed one prints file:line and the thread's last error. The last line is
 * "N passed, M failed" and the exit status is non-zero when anything failed.
 *
 * One status cannot be provoked from C and is not tested here: PLUGHOST_ERR_PANIC, plughost itself
 * panicking, which is a bug by definition. Two need a peer that breaks the protocol, which the C
 * peer does not: PLUGHOST_ERR_IPC_MALFORMED and PLUGHOST_ERR_IPC_INCOMPATIBLE (tested from Rust,
 * tests/ipc_session.rs and src/ipc/session/tests.rs). PLUGHOST_ERR_HOST_STOPPED is reached only by a call that
 * is already under way when the host is freed (a later call through the freed handle gets
 * INVALID_HANDLE): a main-thread service call queued on another thread, see test_host_stopped.
 */
#define _POSIX_C_SOURCE 200809L

#include "plughost.h"

#include <dirent.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------------- */
/* Harness                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

#define STATUS_SLOTS 700

static atomic_int g_passed;
static atomic_int g_failed;
/* Which status codes some CHECK_STATUS expected and got. */
static atomic_bool g_provoked[STATUS_SLOTS];

static void report_failure(const char *file, int line, const char *what) {
    char message[512];
    size_t full = plughost_last_error_message((uint8_t *)message, sizeof message);
    int32_t status = plughost_last_error_status();
    atomic_fetch_add(&g_failed, 1);
    fprintf(stderr, "%s:%d: FAILED: %s\n    last error on this thread: %s: %s%s\n", file, line, what,
            plughost_status_name(status), full > 0 ? message : "(none)", full >= sizeof message ? " [...]" : "");
}

static bool check_at(bool ok, const char *what, const char *file, int line) {
    if (ok) {
        atomic_fetch_add(&g_passed, 1);
    } else {
        report_failure(file, line, what);
    }
    return ok;
}

/* A status check; for an expected failure it also checks that the thread's last error records it. */
static bool check_status_at(int32_t got, int32_t expected, const char *call, const char *file, int line) {
    char what[768];
    if (got != expected) {
        snprintf(what, sizeof what, "%s returned %s (%d), expected %s (%d)", call, plughost_status_name(got), got,
                 plughost_status_name(expected), expected);
        report_failure(file, line, what);
        return false;
    }
    if (expected != PLUGHOST_OK) {
        if (plughost_last_error_status() != expected || plughost_last_error_message(NULL, 0) == 0) {
            snprintf(what, sizeof what, "%s failed with %s but the last error does not say so", call,
                     plughost_status_name(expected));
            report_failure(file, line, what);
            return false;
        }
    }
    if (expected >= 0 && expected < STATUS_SLOTS) {
        atomic_store(&g_provoked[expected], true);
    }
    atomic_fetch_add(&g_passed, 1);
    return true;
}

static bool check_last_error_at(const char *needle, const char *file, int line) {
    char message[2048];
    plughost_last_error_message((uint8_t *)message, sizeof message);
    if (strstr(message, needle) != NULL) {
        atomic_fetch_add(&g_passed, 1);
        return true;
    }
    char what[2600];
    snprintf(what, sizeof what, "last error message lacks \"%s\"", needle);
    report_failure(file, line, what);
    return false;
}

static bool check_text_at(const char *got, const char *expected, const char *file, int line) {
    if (strcmp(got, expected) == 0) {
        atomic_fetch_add(&g_passed, 1);
        return true;
    }
    char what[600];
    snprintf(what, sizeof what, "got \"%.250s\", expected \"%.250s\"", got, expected);
    report_failure(file, line, what);
    return false;
}

#define CHECK(cond) check_at((cond), #cond, __FILE__, __LINE__)
#define CHECK_STATUS(call, expected) check_status_at((call), (expected), #call, __FILE__, __LINE__)
#define CHECK_OK(call) CHECK_STATUS((call), PLUGHOST_OK)
#define CHECK_LAST_ERROR_CONTAINS(needle) check_last_error_at((needle), __FILE__, __LINE__)
#define CHECK_TEXT(got, expected) check_text_at((got), (expected), __FILE__, __LINE__)

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* A C string as the (pointer, length) pair the API takes. */
#define STR(s) (const uint8_t *)(s), strlen(s)

/* Not UTF-8: a lone continuation byte and an invalid lead byte. */
static const uint8_t BAD_UTF8_BYTES[] = {'a', 0xff, 0x80, 'z'};
#define BAD_UTF8 BAD_UTF8_BYTES, sizeof BAD_UTF8_BYTES

/* Never issued by plughost: no module slot or buffer shard this large exists. */
#define RANDOM_ID UINT64_C(0x5eed0000fff0fff1)

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Wait up to timeout_ms for *counter to reach at least `want`. */
static bool wait_for_count(atomic_int *counter, int want, long timeout_ms) {
    long deadline = now_ms() + timeout_ms;
    while (atomic_load(counter) < want) {
        if (now_ms() > deadline) {
            return false;
        }
        sleep_ms(1);
    }
    return true;
}

/* Copy a buffer's bytes into `out` as a NUL-terminated string (truncated to fit), then free it. */
static const char *take_text(plughost_buffer buffer, char *out, size_t cap) {
    const uint8_t *data = NULL;
    size_t len = 0;
    out[0] = '\0';
    if (!CHECK_OK(plughost_buffer_data(buffer, &data, &len))) {
        return out;
    }
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(out, data, n);
    out[n] = '\0';
    CHECK_OK(plughost_buffer_free(buffer));
    return out;
}

/* Execute a command with a text input and return its output text ("" on failure, which is reported). */
static const char *run(const plughost_host *host, plughost_module_id id, const char *command, const char *input,
                       char *out, size_t cap) {
    plughost_buffer buffer = 0;
    out[0] = '\0';
    if (!CHECK_OK(plughost_module_execute(host, id, STR(command), STR(input), &buffer))) {
        return out;
    }
    return take_text(buffer, out, cap);
}

/* ---------------------------------------------------------------------------------------------- */
/* Fixtures, files and configurations                                                             */
/* ---------------------------------------------------------------------------------------------- */

#define PATH_CAP 1024

static struct {
    char dir[PATH_CAP];
    char root[PATH_CAP];
    char outside[PATH_CAP];
    char shadow[PATH_CAP];
    const char *counter;
    const char *counter_v2;
    const char *greeter;
    const char *tls_pinned;
    const char *no_entry;
    const char *abi_mismatch;
    const char *short_table;
    const char *null_entry;
    const char *missing_execute;
    const char *init_fails;
    const char *restore_fails;
    const char *ipc_peer;
    const char *plugin_c;
    const char *python_worker;
} fx;

static const char *env_path(const char *name) {
    const char *value = getenv(name);
    if (value == NULL || value[0] == '\0') {
        fprintf(stderr, "environment variable %s is not set (run this program through tests/c_api.rs)\n", name);
        exit(2);
    }
    return value;
}

/* Stop at once when a path or a configuration does not fit its buffer: nothing could be trusted. */
static void fits_or_exit(int written, size_t cap, const char *what) {
    if (written < 0 || (size_t)written >= cap) {
        fprintf(stderr, "%s does not fit in %zu bytes\n", what, cap);
        exit(2);
    }
}

static void path_join(char *out, size_t cap, const char *dir, const char *name) {
    fits_or_exit(snprintf(out, cap, "%s/%s", dir, name), cap, "a path");
}

static void load_fixtures(void) {
    const char *dir = env_path("PLUGHOST_TEST_DIR");
    fits_or_exit(snprintf(fx.dir, sizeof fx.dir, "%s", dir), sizeof fx.dir, "PLUGHOST_TEST_DIR");
    path_join(fx.root, sizeof fx.root, dir, "root");
    path_join(fx.outside, sizeof fx.outside, dir, "outside");
    path_join(fx.shadow, sizeof fx.shadow, dir, "shadow");
    fx.counter = env_path("PLUGHOST_TEST_COUNTER");
    fx.counter_v2 = env_path("PLUGHOST_TEST_COUNTER_V2");
    fx.greeter = env_path("PLUGHOST_TEST_GREETER");
    fx.tls_pinned = env_path("PLUGHOST_TEST_TLS_PINNED");
    fx.no_entry = env_path("PLUGHOST_TEST_NO_ENTRY");
    fx.abi_mismatch = env_path("PLUGHOST_TEST_ABI_MISMATCH");
    fx.short_table = env_path("PLUGHOST_TEST_SHORT_TABLE");
    fx.null_entry = env_path("PLUGHOST_TEST_NULL_ENTRY");
    fx.missing_execute = env_path("PLUGHOST_TEST_MISSING_EXECUTE");
    fx.init_fails = env_path("PLUGHOST_TEST_INIT_FAILS");
    fx.restore_fails = env_path("PLUGHOST_TEST_RESTORE_FAILS");
    fx.ipc_peer = env_path("PLUGHOST_TEST_IPC_PEER");
    fx.plugin_c = env_path("PLUGHOST_TEST_PLUGIN_C");
    fx.python_worker = env_path("PLUGHOST_TEST_PYTHON_WORKER");
}

/* Write `len` bytes to a new file. */
static bool write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return false;
    }
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* Copy the first `numerator / denominator` of a file (1/1: all of it). */
static bool copy_file_part(const char *from, const char *to, long numerator, long denominator) {
    FILE *f = fopen(from, "rb");
    if (f == NULL) {
        return false;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *bytes = malloc(size > 0 ? (size_t)size : 1);
    bool ok = bytes != NULL && fread(bytes, 1, (size_t)size, f) == (size_t)size;
    fclose(f);
    ok = ok && write_file(to, bytes, (size_t)(size / denominator * numerator));
    free(bytes);
    return ok;
}

/* Entries in a folder, without "." and "..". */
static int count_entries(const char *path) {
    DIR *d = opendir(path);
    if (d == NULL) {
        return -1;
    }
    int n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* `in` as the inside of a JSON string. */
static void json_escape(char *out, size_t cap, const char *in) {
    size_t n = 0;
    for (; *in != '\0' && n + 7 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
}

#define CONFIG_CAP 4096

/*
 * {"PlugHost": {"Modules": {"TrustedRoots": [root], "ShadowDirectory": shadow, <modules_extra>},
 *               "Logging": {"Level": "debug"}, <sections_extra>}}
 */
static void make_config(char *out, size_t cap, const char *shadow, const char *modules_extra,
                        const char *sections_extra) {
    char root[PATH_CAP * 2];
    char shadow_escaped[PATH_CAP * 2];
    json_escape(root, sizeof root, fx.root);
    json_escape(shadow_escaped, sizeof shadow_escaped, shadow);
    int written = snprintf(
        out, cap,
        "{\"PlugHost\": {\"Modules\": {\"TrustedRoots\": [\"%s\"], \"ShadowDirectory\": \"%s\"%s%s},"
        " \"Logging\": {\"Level\": \"debug\"}%s%s}}",
        root, shadow_escaped, modules_extra[0] ? ", " : "", modules_extra, sections_extra[0] ? ", " : "",
        sections_extra);
    fits_or_exit(written, cap, "the configuration");
}

/* A host on the sandbox's trusted root and shadow folder; exits on failure (nothing else can run). */
static plughost_host *new_host(const char *modules_extra, const char *sections_extra) {
    char config[CONFIG_CAP];
    make_config(config, sizeof config, fx.shadow, modules_extra, sections_extra);
    plughost_host *host = NULL;
    if (!CHECK_OK(plughost_host_new(STR(config), &host)) || host == NULL) {
        fprintf(stderr, "cannot create a host from %s\n", config);
        exit(1);
    }
    return host;
}

/*
 * Keep a freed handle. plughost keeps a 16-byte tombstone for every freed host and session, by
 * design, so that a stale handle stays safe to pass. Like an application that may still pass its
 * stale handles, this program keeps them, which keeps the tombstones reachable: LeakSanitizer then
 * stays fully armed without a suppression and reports any other memory a freed handle leaves behind.
 */
static const void *g_freed_handles[128];
static atomic_int g_freed_count;

static void keep_freed(const void *handle) {
    int slot = atomic_fetch_add(&g_freed_count, 1);
    if (slot < (int)COUNT(g_freed_handles)) {
        g_freed_handles[slot] = handle;
    }
}

static void free_host(plughost_host *host) {
    keep_freed(host);
    plughost_host_free(host);
}

static plughost_module_id load(const plughost_host *host, const char *path) {
    plughost_module_id id = 0;
    CHECK_OK(plughost_module_load(host, STR(path), &id));
    return id;
}

/* Whether the text of `buffer` contains `needle`; frees the buffer. */
static bool buffer_contains(plughost_buffer buffer, const char *needle) {
    const uint8_t *data = NULL;
    size_t len = 0;
    bool found = false;
    if (plughost_buffer_data(buffer, &data, &len) == PLUGHOST_OK) {
        char *text = malloc(len + 1);
        if (text != NULL) {
            memcpy(text, data, len);
            text[len] = '\0';
            found = strstr(text, needle) != NULL;
            free(text);
        }
    }
    plughost_buffer_free(buffer);
    return found;
}

static bool health_contains(const plughost_host *host, const char *needle) {
    plughost_buffer buffer = 0;
    if (plughost_host_health(host, &buffer) != PLUGHOST_OK) {
        return false;
    }
    return buffer_contains(buffer, needle);
}

/* ---------------------------------------------------------------------------------------------- */
/* Threads                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

/* One call made on another thread. */
typedef struct job {
    const plughost_host *host;
    plughost_module_id module;
    const char *name;  /* command, service name, or module path */
    const char *input;
    int32_t expected;  /* the status the thread checks for */
    int32_t status;
    plughost_module_id loaded;
    char output[128]; /* the output, or the thread's last error message on failure */
    atomic_bool done;
} job;

/* Ends a job whose call returned j->status and, on success, buffer: checks the status and keeps the
   output, or this thread's last error message. */
static void *finish_call(job *j, plughost_buffer buffer) {
    CHECK_STATUS(j->status, j->expected);
    if (j->status == PLUGHOST_OK) {
        take_text(buffer, j->output, sizeof j->output);
    } else {
        plughost_last_error_message((uint8_t *)j->output, sizeof j->output);
    }
    atomic_store(&j->done, true);
    return NULL;
}

static void *execute_on_thread(void *arg) {
    job *j = arg;
    plughost_buffer buffer = 0;
    j->status = plughost_module_execute(j->host, j->module, STR(j->name), STR(j->input), &buffer);
    return finish_call(j, buffer);
}

static void *call_service_on_thread(void *arg) {
    job *j = arg;
    plughost_buffer buffer = 0;
    j->status = plughost_service_call(j->host, STR(j->name), STR(j->input), &buffer);
    return finish_call(j, buffer);
}

static void *load_on_thread(void *arg) {
    job *j = arg;
    j->status = plughost_module_load(j->host, STR(j->name), &j->loaded);
    CHECK_STATUS(j->status, j->expected);
    atomic_store(&j->done, true);
    return NULL;
}

static void *pump_on_thread(void *arg) {
    job *j = arg;
    uint32_t ran = 99;
    j->status = plughost_host_pump(j->host, 0, &ran);
    CHECK_STATUS(j->status, j->expected);
    CHECK(ran == (j->status == PLUGHOST_OK ? 0u : 99u)); /* written only on success */
    atomic_store(&j->done, true);
    return NULL;
}

static void *become_main_and_pump(void *arg) {
    job *j = arg;
    CHECK_OK(plughost_host_set_main_thread(j->host));
    uint32_t ran = 99;
    j->status = plughost_host_pump(j->host, 0, &ran);
    CHECK_OK(j->status);
    CHECK(ran == 0);
    atomic_store(&j->done, true);
    return NULL;
}

static void *last_error_on_fresh_thread(void *arg) {
    (void)arg;
    CHECK(plughost_last_error_message(NULL, 0) == 0);
    CHECK(plughost_last_error_status() == PLUGHOST_OK);
    char buf[8] = "xxxxxxx";
    CHECK(plughost_last_error_message((uint8_t *)buf, sizeof buf) == 0);
    CHECK(buf[0] == '\0');
    return NULL;
}

static void start(pthread_t *thread, void *(*body)(void *), void *arg) {
    if (pthread_create(thread, NULL, body, arg) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        exit(1);
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Callbacks and their user data                                                                  */
/* ---------------------------------------------------------------------------------------------- */

static pthread_t g_main_thread;

typedef struct log_probe {
    atomic_int events;
    atomic_int off_main_thread;
    atomic_int from_counter; /* target "counter": the module's own log */
    atomic_int bad_level;
    atomic_int destroyed;
} log_probe;

static void log_cb(void *user_data, uint32_t level, const uint8_t *target, size_t target_len,
                   const uint8_t *message, size_t message_len) {
    log_probe *p = user_data;
    (void)message;
    atomic_fetch_add(&p->events, 1);
    if (level < PLUGHOST_LOG_ERROR || level > PLUGHOST_LOG_TRACE || message_len == 0) {
        atomic_fetch_add(&p->bad_level, 1);
    }
    if (!pthread_equal(pthread_self(), g_main_thread)) {
        atomic_fetch_add(&p->off_main_thread, 1);
    }
    if (target_len == 7 && memcmp(target, "counter", 7) == 0) {
        atomic_fetch_add(&p->from_counter, 1);
    }
}

static void log_destroy(void *user_data) {
    atomic_fetch_add(&((log_probe *)user_data)->destroyed, 1);
}

typedef struct service_probe {
    const char *reply;  /* written before the input */
    const char *error;  /* when set: reported as the error instead */
    atomic_int calls;
    atomic_int on_main_thread;
    atomic_int bad_write; /* plughost_output_write(output, NULL, 3) did not give NULL_ARGUMENT */
    atomic_int destroyed;
} service_probe;

static int32_t service_cb(void *user_data, const uint8_t *input, size_t input_len, plughost_output *output) {
    service_probe *p = user_data;
    atomic_fetch_add(&p->calls, 1);
    if (pthread_equal(pthread_self(), g_main_thread)) {
        atomic_fetch_add(&p->on_main_thread, 1);
    }
    if (plughost_output_write(output, NULL, 3) != PLUGHOST_ERR_NULL_ARGUMENT ||
        plughost_output_set_error(output, NULL, 3) != PLUGHOST_ERR_NULL_ARGUMENT ||
        plughost_output_write(output, NULL, 0) != PLUGHOST_OK) {
        atomic_fetch_add(&p->bad_write, 1);
    }
    if (p->error != NULL) {
        plughost_output_set_error(output, STR(p->error));
        return 1;
    }
    plughost_output_write(output, STR(p->reply));
    plughost_output_write(output, input, input_len);
    return PLUGHOST_OK;
}

static void service_destroy(void *user_data) {
    atomic_fetch_add(&((service_probe *)user_data)->destroyed, 1);
}

typedef struct counter_probe {
    atomic_int calls;
    atomic_int destroyed;
} counter_probe;

static void pump_cb(void *user_data) {
    atomic_fetch_add(&((counter_probe *)user_data)->calls, 1);
}

static void counter_destroy(void *user_data) {
    atomic_fetch_add(&((counter_probe *)user_data)->destroyed, 1);
}

typedef struct event_probe {
    atomic_int count;
    atomic_int destroyed;
    atomic_int out_of_order;
    atomic_uint_fast64_t last_sequence;
    char topic[64];
    char source[64];
    char payload[64];
} event_probe;

static void copy_bytes(char *out, size_t cap, const uint8_t *data, size_t len) {
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(out, data, n);
    out[n] = '\0';
}

static void event_cb(void *user_data, const uint8_t *topic, size_t topic_len, const uint8_t *source,
                     size_t source_len, const uint8_t *payload, size_t payload_len, uint64_t sequence) {
    event_probe *p = user_data;
    atomic_fetch_add(&p->count, 1);
    if (sequence <= atomic_exchange(&p->last_sequence, sequence)) {
        atomic_fetch_add(&p->out_of_order, 1);
    }
    copy_bytes(p->topic, sizeof p->topic, topic, topic_len);
    copy_bytes(p->source, sizeof p->source, source, source_len);
    copy_bytes(p->payload, sizeof p->payload, payload, payload_len);
}

static void event_destroy(void *user_data) {
    atomic_fetch_add(&((event_probe *)user_data)->destroyed, 1);
}

/* ---------------------------------------------------------------------------------------------- */
/* Versions and status names                                                                      */
/* ---------------------------------------------------------------------------------------------- */

#define NAMED(code) {code, #code}

static const struct {
    int32_t code;
    const char *name;
} STATUSES[] = {
    NAMED(PLUGHOST_OK),
    NAMED(PLUGHOST_ERR_NULL_ARGUMENT),
    NAMED(PLUGHOST_ERR_INVALID_ARGUMENT),
    NAMED(PLUGHOST_ERR_INVALID_UTF8),
    NAMED(PLUGHOST_ERR_INVALID_HANDLE),
    NAMED(PLUGHOST_ERR_PANIC),
    NAMED(PLUGHOST_ERR_INVALID_CONFIG),
    NAMED(PLUGHOST_ERR_WRONG_THREAD),
    NAMED(PLUGHOST_ERR_TIMEOUT),
    NAMED(PLUGHOST_ERR_LIMIT_REACHED),
    NAMED(PLUGHOST_ERR_IO),
    NAMED(PLUGHOST_ERR_HOST_STOPPED),
    NAMED(PLUGHOST_ERR_MODULE_NOT_FOUND),
    NAMED(PLUGHOST_ERR_MODULE_NOT_LOADABLE),
    NAMED(PLUGHOST_ERR_MODULE_ENTRY_MISSING),
    NAMED(PLUGHOST_ERR_MODULE_ABI_MISMATCH),
    NAMED(PLUGHOST_ERR_MODULE_INIT_FAILED),
    NAMED(PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND),
    NAMED(PLUGHOST_ERR_MODULE_FAILED),
    NAMED(PLUGHOST_ERR_MODULE_PANICKED),
    NAMED(PLUGHOST_ERR_MODULE_DRAIN_TIMEOUT),
    NAMED(PLUGHOST_ERR_MODULE_PATH_NOT_TRUSTED),
    NAMED(PLUGHOST_ERR_MODULE_PINNED_LIMIT),
    NAMED(PLUGHOST_ERR_MODULE_STATE_TRANSFER),
    NAMED(PLUGHOST_ERR_SERVICE_NOT_FOUND),
    NAMED(PLUGHOST_ERR_SERVICE_FAILED),
    NAMED(PLUGHOST_ERR_SERVICE_EXISTS),
    NAMED(PLUGHOST_ERR_KEY_NOT_FOUND),
    NAMED(PLUGHOST_ERR_IPC_PEER_DEAD),
    NAMED(PLUGHOST_ERR_IPC_TIMEOUT),
    NAMED(PLUGHOST_ERR_IPC_MALFORMED),
    NAMED(PLUGHOST_ERR_IPC_CLOSED),
    NAMED(PLUGHOST_ERR_IPC_REMOTE_FAILED),
    NAMED(PLUGHOST_ERR_IPC_TOO_LARGE),
    NAMED(PLUGHOST_ERR_IPC_SETUP),
    NAMED(PLUGHOST_ERR_IPC_INCOMPATIBLE),
    NAMED(PLUGHOST_ERR_PLUGIN_NOT_FOUND),
    NAMED(PLUGHOST_ERR_PLUGIN_NOT_RUNNING),
    NAMED(PLUGHOST_ERR_PLUGIN_START_FAILED),
    NAMED(PLUGHOST_ERR_PLUGIN_FAILED),
    NAMED(PLUGHOST_ERR_PLUGIN_CRASHED),
    NAMED(PLUGHOST_ERR_PYTHON_UNAVAILABLE),
    NAMED(PLUGHOST_ERR_PYTHON_ERROR),
    NAMED(PLUGHOST_ERR_POOL_SATURATED),
    NAMED(PLUGHOST_ERR_PYTHON_MEMORY_LIMIT),
    NAMED(PLUGHOST_ERR_PYTHON_WORKER_CRASHED),
    NAMED(PLUGHOST_ERR_PYTHON_SESSION_LOST),
};

static void test_versions_and_status_names(void) {
    CHECK(plughost_abi_version() == PLUGHOST_ABI_VERSION);
    CHECK(plughost_version() != NULL);
    CHECK_TEXT(plughost_version(), PLUGHOST_VERSION);
    for (size_t i = 0; i < COUNT(STATUSES); i++) {
        CHECK_TEXT(plughost_status_name(STATUSES[i].code), STATUSES[i].name);
    }
    const int32_t unknown[] = {-1, 12, 99, 112, 203, 301, 408, 505, 9999, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < COUNT(unknown); i++) {
        CHECK_TEXT(plughost_status_name(unknown[i]), "PLUGHOST_ERR_UNKNOWN");
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Last error                                                                                     */
/* ---------------------------------------------------------------------------------------------- */

static void test_last_error(void) {
    pthread_t thread;
    start(&thread, last_error_on_fresh_thread, NULL);
    pthread_join(thread, NULL);

    CHECK_STATUS(plughost_buffer_free(RANDOM_ID), PLUGHOST_ERR_INVALID_HANDLE);
    size_t full = plughost_last_error_message(NULL, 0);
    CHECK(full > 10);
    CHECK_LAST_ERROR_CONTAINS("buffer 0x5eed0000fff0fff1 is freed or was never issued");

    char whole[256];
    CHECK(full < sizeof whole);
    CHECK(plughost_last_error_message((uint8_t *)whole, full + 1) == full);
    CHECK(strlen(whole) == full);

    char small[8];
    memset(small, 'x', sizeof small);
    CHECK(plughost_last_error_message((uint8_t *)small, sizeof small) == full);
    CHECK(strlen(small) == sizeof small - 1);
    CHECK(strncmp(small, whole, sizeof small - 1) == 0);

    char one = 'x';
    CHECK(plughost_last_error_message((uint8_t *)&one, 1) == full);
    CHECK(one == '\0');

    /* Exactly one byte short: truncated by one. */
    char *short_by_one = malloc(full);
    CHECK(short_by_one != NULL);
    if (short_by_one != NULL) {
        CHECK(plughost_last_error_message((uint8_t *)short_by_one, full) == full);
        CHECK(strlen(short_by_one) == full - 1);
        free(short_by_one);
    }

    /* Successful calls keep the last error. */
    CHECK_OK(plughost_buffer_free(0));
    CHECK(plughost_last_error_status() == PLUGHOST_ERR_INVALID_HANDLE);
    CHECK(plughost_last_error_message(NULL, 0) == full);

    /* Each thread has its own. */
    start(&thread, last_error_on_fresh_thread, NULL);
    pthread_join(thread, NULL);
    CHECK(plughost_last_error_status() == PLUGHOST_ERR_INVALID_HANDLE);

    /* A new failure replaces it. */
    CHECK_STATUS(plughost_host_set_log_level(NULL, 1), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_LAST_ERROR_CONTAINS("host is NULL");
}

/* ---------------------------------------------------------------------------------------------- */
/* Configuration                                                                                  */
/* ---------------------------------------------------------------------------------------------- */

static void test_config(void) {
    static char sentinel_storage;
    plughost_host *sentinel = (plughost_host *)&sentinel_storage;
    plughost_host *host = sentinel;

    CHECK_STATUS(plughost_host_new(STR("{not json"), &host), PLUGHOST_ERR_INVALID_CONFIG);
    CHECK_LAST_ERROR_CONTAINS("configuration is not valid JSON");
    CHECK(host == sentinel); /* outputs are written only on success */

    const char *typo = "{\"PlugHost\": {\"Modules\": {\"UnloadTimeotMs\": 5}, \"Logging\": {\"Level\": \"loud\"}}}";
    CHECK_STATUS(plughost_host_new(STR(typo), &host), PLUGHOST_ERR_INVALID_CONFIG);
    CHECK_LAST_ERROR_CONTAINS("2 problem(s)");
    CHECK_LAST_ERROR_CONTAINS("$.PlugHost.Modules.UnloadTimeotMs: unknown key; did you mean \"UnloadTimeoutMs\"?");
    CHECK_LAST_ERROR_CONTAINS("$.PlugHost.Logging.Level: expected one of off, error, warn, info, debug, trace");
    CHECK(host == sentinel);

    CHECK_STATUS(plughost_host_new(STR("{\"PlugHost\": {\"Modules\": {\"MaxModules\": 0}}}"), &host),
                 PLUGHOST_ERR_INVALID_CONFIG);
    CHECK_LAST_ERROR_CONTAINS("$.PlugHost.Modules.MaxModules: expected an integer from 1 to 65535, found 0");

    CHECK_STATUS(plughost_host_new(BAD_UTF8, &host), PLUGHOST_ERR_INVALID_UTF8);
    CHECK_STATUS(plughost_host_new(NULL, 5, &host), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_host_new(STR("{}"), NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK(host == sentinel);

    /* NULL, empty and {} all mean the defaults. */
    CHECK_OK(plughost_host_new(NULL, 0, &host));
    CHECK(host != sentinel && host != NULL);
    free_host(host);
    host = NULL;
    CHECK_OK(plughost_host_new(STR("  {} "), &host));
    CHECK(host != NULL);
    free_host(host);
}

/* ---------------------------------------------------------------------------------------------- */
/* Host handles: NULL, freed (tombstone), double free                                             */
/* ---------------------------------------------------------------------------------------------- */

/* Every function taking a host, called with `host`, must return `expected` and write nothing. */
static void every_host_function_fails(const plughost_host *host, int32_t expected) {
    plughost_buffer buffer = 7;
    plughost_module_id id = 7;
    uint64_t number = 7;
    uint32_t ran = 7;
    counter_probe probe = {0};

    CHECK_STATUS(plughost_host_health(host, &buffer), expected);
    CHECK_STATUS(plughost_host_health_check(host, &buffer), expected);
    CHECK_STATUS(plughost_host_health_history(host, &buffer), expected);
    CHECK_STATUS(plughost_host_set_log_callback(host, log_cb, NULL, NULL), expected);
    CHECK_STATUS(plughost_host_set_log_level(host, PLUGHOST_LOG_INFO), expected);
    CHECK_STATUS(plughost_host_set_main_thread(host), expected);
    CHECK_STATUS(plughost_host_set_pump_callback(host, pump_cb, &probe, counter_destroy), expected);
    CHECK_STATUS(plughost_host_pump(host, 0, &ran), expected);
    CHECK_STATUS(plughost_host_set_watching(host, 1), expected);
    CHECK_STATUS(plughost_host_watching(host, &ran), expected);
    CHECK_STATUS(plughost_module_load(host, STR(fx.counter), &id), expected);
    CHECK_STATUS(plughost_module_execute(host, 1, STR("get"), NULL, 0, &buffer), expected);
    CHECK_STATUS(plughost_module_reload(host, 1, NULL, 0, &number), expected);
    CHECK_STATUS(plughost_module_unload(host, 1), expected);
    CHECK_STATUS(plughost_service_register(host, STR("svc"), 0, service_cb, NULL, NULL), expected);
    CHECK_STATUS(plughost_service_unregister(host, STR("svc")), expected);
    CHECK_STATUS(plughost_service_call(host, STR("svc"), NULL, 0, &buffer), expected);
    CHECK_STATUS(plughost_storage_set(host, STR("k"), STR("v")), expected);
    CHECK_STATUS(plughost_storage_get(host, STR("k"), &buffer), expected);
    CHECK_STATUS(plughost_event_publish(host, STR("t"), NULL, 0), expected);
    CHECK_STATUS(plughost_event_subscribe(host, STR("t"), event_cb, NULL, NULL, &number), expected);
    CHECK_STATUS(plughost_event_unsubscribe(host, 1), expected);
    CHECK_STATUS(plughost_host_extensions_json(host, &buffer), expected);
    CHECK_STATUS(plughost_host_rescan_extensions(host), expected);
    CHECK_STATUS(plughost_host_install_package(host, STR("/no/such.plpkg")), expected);

    CHECK(buffer == 7 && id == 7 && number == 7 && ran == 7);
    /* User data handed to a call that fails is released at once: its destroy callback has run. */
    CHECK(atomic_load(&probe.destroyed) == 1);
    CHECK(atomic_load(&probe.calls) == 0);
}

static void test_host_handles(void) {
    every_host_function_fails(NULL, PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_LAST_ERROR_CONTAINS("host is NULL");
    plughost_host_free(NULL); /* a no-op */

    plughost_host *host = new_host("", "");
    CHECK_OK(plughost_host_set_log_level(host, PLUGHOST_LOG_WARN));
    free_host(host);
    /* The handle is a tombstone now: every call fails cleanly instead of touching freed memory. */
    every_host_function_fails(host, PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_LAST_ERROR_CONTAINS("host is freed");
    plughost_host_free(host); /* double free: a no-op */
    every_host_function_fails(host, PLUGHOST_ERR_INVALID_HANDLE);

    /* The output functions with a NULL output object. */
    CHECK_STATUS(plughost_output_write(NULL, STR("x")), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_output_set_error(NULL, STR("x")), PLUGHOST_ERR_NULL_ARGUMENT);
}

/* ---------------------------------------------------------------------------------------------- */
/* Logging                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

static void test_logging(void) {
    plughost_host *host = new_host("", "");
    log_probe first = {0};
    log_probe second = {0};

    CHECK_OK(plughost_host_set_log_level(host, PLUGHOST_LOG_OFF));
    CHECK_OK(plughost_host_set_log_level(host, PLUGHOST_LOG_TRACE));
    CHECK_STATUS(plughost_host_set_log_level(host, 6), PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_CONTAINS("log level 6");
    CHECK_STATUS(plughost_host_set_log_level(host, UINT32_MAX), PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_OK(plughost_host_set_log_level(host, PLUGHOST_LOG_INFO));

    CHECK_OK(plughost_host_set_log_callback(host, log_cb, &first, log_destroy));
    /* Replacing the callback releases the first user data, once. */
    CHECK_OK(plughost_host_set_log_callback(host, log_cb, &second, log_destroy));
    CHECK(wait_for_count(&first.destroyed, 1, 2000));

    /* Events logged on another thread reach the callback on that thread: the host's "module loaded"
       and the module's own log line (target "counter"). */
    job j = {.host = host, .name = fx.counter, .expected = PLUGHOST_OK};
    pthread_t thread;
    start(&thread, load_on_thread, &j);
    pthread_join(thread, NULL);
    CHECK(atomic_load(&second.events) > 0);
    CHECK(atomic_load(&second.off_main_thread) > 0);
    CHECK(atomic_load(&second.from_counter) > 0);
    CHECK(atomic_load(&second.bad_level) == 0);
    CHECK(atomic_load(&first.events) == 0);

    /* Level off: nothing is delivered. */
    CHECK_OK(plughost_host_set_log_level(host, PLUGHOST_LOG_OFF));
    int before = atomic_load(&second.events);
    CHECK_OK(plughost_module_unload(host, j.loaded));
    CHECK(atomic_load(&second.events) == before);
    CHECK_OK(plughost_host_set_log_level(host, PLUGHOST_LOG_DEBUG));

    /* Freeing the host releases the current user data, once. */
    CHECK(atomic_load(&second.destroyed) == 0);
    free_host(host);
    CHECK(atomic_load(&second.destroyed) == 1);
    CHECK(atomic_load(&first.destroyed) == 1);

    /* Clearing with NULL releases the user data as well. */
    log_probe third = {0};
    host = new_host("", "");
    CHECK_OK(plughost_host_set_log_callback(host, log_cb, &third, log_destroy));
    CHECK_OK(plughost_host_set_log_callback(host, NULL, NULL, NULL));
    CHECK(wait_for_count(&third.destroyed, 1, 2000));
    free_host(host);
    CHECK(atomic_load(&third.destroyed) == 1);
}

/* ---------------------------------------------------------------------------------------------- */
/* Buffers                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

static void test_buffers(void) {
    plughost_host *host = new_host("", "");
    plughost_buffer buffer = 0;
    const uint8_t *data = NULL;
    size_t len = 0;

    CHECK_OK(plughost_host_health(host, &buffer));
    CHECK(buffer != 0);
    CHECK_OK(plughost_buffer_data(buffer, &data, &len));
    CHECK(data != NULL && len > 2 && data[0] == '{');
    CHECK_STATUS(plughost_buffer_data(buffer, NULL, &len), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_buffer_data(buffer, &data, NULL), PLUGHOST_ERR_NULL_ARGUMENT);

    /* A buffer outlives the host that filled it. */
    free_host(host);
    const uint8_t *again = NULL;
    CHECK_OK(plughost_buffer_data(buffer, &again, &len));
    CHECK(again == data);

    CHECK_OK(plughost_buffer_free(buffer));
    const uint8_t *untouched = (const uint8_t *)"sentinel";
    size_t untouched_len = 12345;
    CHECK_STATUS(plughost_buffer_data(buffer, &untouched, &untouched_len), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK(untouched_len == 12345 && strcmp((const char *)untouched, "sentinel") == 0);
    CHECK_STATUS(plughost_buffer_free(buffer), PLUGHOST_ERR_INVALID_HANDLE); /* double free */
    CHECK_OK(plughost_buffer_free(0));
    /* 0 is the empty buffer: readable, length 0, a non-NULL pointer. */
    data = NULL;
    len = 99;
    CHECK_OK(plughost_buffer_data(0, &data, &len));
    CHECK(data != NULL && len == 0);
    CHECK_STATUS(plughost_buffer_free(RANDOM_ID), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_STATUS(plughost_buffer_data(RANDOM_ID, &data, &len), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_STATUS(plughost_buffer_free(UINT64_MAX), PLUGHOST_ERR_INVALID_HANDLE);

    /* A reused slot gets a new id, and the old id stays invalid. */
    host = new_host("", "");
    plughost_buffer next = 0;
    CHECK_OK(plughost_host_health(host, &next));
    CHECK(next != buffer);
    CHECK_STATUS(plughost_buffer_free(buffer), PLUGHOST_ERR_INVALID_HANDLE);

    /* An empty result is the empty buffer 0: a non-NULL pointer and length 0. */
    plughost_buffer empty = 12345;
    CHECK_OK(plughost_storage_set(host, STR("empty"), NULL, 0));
    CHECK_OK(plughost_storage_get(host, STR("empty"), &empty));
    CHECK(empty == 0);
    data = NULL;
    len = 99;
    CHECK_OK(plughost_buffer_data(empty, &data, &len));
    CHECK(data != NULL && len == 0);
    CHECK_OK(plughost_buffer_free(empty));
    CHECK_OK(plughost_buffer_free(next));
    free_host(host);
}

/* ---------------------------------------------------------------------------------------------- */
/* Modules: load, execute, unload, stale ids                                                      */
/* ---------------------------------------------------------------------------------------------- */

static void test_module_calls(void) {
    plughost_host *host = new_host("", "");
    plughost_module_id id = 77;
    plughost_buffer buffer = 77;
    char text[256];

    CHECK_STATUS(plughost_module_load(host, NULL, 0, &id), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_module_load(host, NULL, 10, &id), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_module_load(host, (const uint8_t *)"", 0, &id), PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(plughost_module_load(host, BAD_UTF8, &id), PLUGHOST_ERR_INVALID_UTF8);
    CHECK_STATUS(plughost_module_load(host, STR(fx.counter), NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK(id == 77);

    id = load(host, fx.counter);
    CHECK(id != 0);
    CHECK(count_entries(fx.shadow) == 1);
    CHECK_TEXT(run(host, id, "version", "", text, sizeof text), "1.0.0");
    CHECK_TEXT(run(host, id, "increment", "5", text, sizeof text), "5");
    CHECK_TEXT(run(host, id, "echo", "gr\xc3\xbc\xc3\x9f" "e", text, sizeof text), "gr\xc3\xbc\xc3\x9f" "e");

    /* NULL input with length 0 is the empty input; the empty output is an empty buffer. */
    CHECK_OK(plughost_module_execute(host, id, STR("noop"), NULL, 0, &buffer));
    CHECK_TEXT(take_text(buffer, text, sizeof text), "");

    buffer = 77;
    CHECK_STATUS(plughost_module_execute(host, id, STR("echo"), NULL, 3, &buffer), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_module_execute(host, id, NULL, 0, NULL, 0, &buffer), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_module_execute(host, id, NULL, 4, NULL, 0, &buffer), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_module_execute(host, id, (const uint8_t *)"", 0, NULL, 0, &buffer),
                 PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(plughost_module_execute(host, id, BAD_UTF8, NULL, 0, &buffer), PLUGHOST_ERR_INVALID_UTF8);
    CHECK_STATUS(plughost_module_execute(host, id, STR("get"), NULL, 0, NULL), PLUGHOST_ERR_NULL_ARGUMENT);

    CHECK_STATUS(plughost_module_execute(host, id, STR("nope"), NULL, 0, &buffer),
                 PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND);
    CHECK_LAST_ERROR_CONTAINS("module \"counter\" has no command \"nope\"");
    CHECK_STATUS(plughost_module_execute(host, id, STR("fail"), NULL, 0, &buffer), PLUGHOST_ERR_MODULE_FAILED);
    CHECK_LAST_ERROR_CONTAINS("failure requested by the caller");
    CHECK_STATUS(plughost_module_execute(host, id, STR("increment"), STR("many"), &buffer),
                 PLUGHOST_ERR_MODULE_FAILED);
    CHECK_LAST_ERROR_CONTAINS("not a number: many");
    CHECK_STATUS(plughost_module_execute(host, id, STR("panic"), NULL, 0, &buffer), PLUGHOST_ERR_MODULE_PANICKED);
    CHECK_LAST_ERROR_CONTAINS("panic requested by the caller");
    CHECK(buffer == 77);
    CHECK_TEXT(run(host, id, "increment", "", text, sizeof text), "6"); /* still serving after a panic */

    /* Ids that were never issued. */
    CHECK_STATUS(plughost_module_execute(host, 0, STR("get"), NULL, 0, &buffer), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_LAST_ERROR_CONTAINS("module id 0x0 is stale or was never issued");
    CHECK_STATUS(plughost_module_execute(host, RANDOM_ID, STR("get"), NULL, 0, &buffer),
                 PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_STATUS(plughost_module_execute(host, id + 1, STR("get"), NULL, 0, &buffer), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_STATUS(plughost_module_unload(host, 0), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_STATUS(plughost_module_reload(host, RANDOM_ID, NULL, 0, NULL), PLUGHOST_ERR_INVALID_HANDLE);

    /* Unload: the id is stale at once and for good. */
    CHECK_OK(plughost_module_unload(host, id));
    CHECK(count_entries(fx.shadow) == 0);
    CHECK_STATUS(plughost_module_execute(host, id, STR("get"), NULL, 0, &buffer), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_STATUS(plughost_module_reload(host, id, NULL, 0, NULL), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_STATUS(plughost_module_unload(host, id), PLUGHOST_ERR_INVALID_HANDLE); /* double unload */
    plughost_module_id next = load(host, fx.counter);                           /* reuses the slot */
    CHECK(next != id);
    CHECK_STATUS(plughost_module_execute(host, id, STR("get"), NULL, 0, &buffer), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_TEXT(run(host, next, "get", "", text, sizeof text), "0");
    CHECK(buffer == 77);
    free_host(host); /* unloads `next` */
    CHECK(count_entries(fx.shadow) == 0);
}

/* ---------------------------------------------------------------------------------------------- */
/* Modules: every load error                                                                      */
/* ---------------------------------------------------------------------------------------------- */

static void expect_load_error(const plughost_host *host, const char *path, int32_t expected, const char *file,
                              int line) {
    plughost_module_id id = 55;
    char what[PATH_CAP + 64];
    snprintf(what, sizeof what, "plughost_module_load(%s)", path);
    check_status_at(plughost_module_load(host, STR(path), &id), expected, what, file, line);
    check_at(id == 55, "the id is not written on failure", file, line);
}
#define CHECK_LOAD_ERROR(host, path, expected) expect_load_error((host), (path), (expected), __FILE__, __LINE__)

static void test_module_load_errors(void) {
    plughost_host *host = new_host("", "");
    char path[PATH_CAP];
    char other[PATH_CAP];

    path_join(path, sizeof path, fx.root, "missing.so");
    CHECK_LOAD_ERROR(host, path, PLUGHOST_ERR_MODULE_NOT_FOUND);
    CHECK_LAST_ERROR_CONTAINS("does not exist");

    path_join(path, sizeof path, fx.root, "notes.so");
    CHECK(write_file(path, "not a library", 13));
    CHECK_LOAD_ERROR(host, path, PLUGHOST_ERR_MODULE_NOT_LOADABLE);
    path_join(path, sizeof path, fx.root, "truncated.so");
    CHECK(copy_file_part(fx.greeter, path, 1, 3));
    CHECK_LOAD_ERROR(host, path, PLUGHOST_ERR_MODULE_NOT_LOADABLE);
    CHECK_LAST_ERROR_CONTAINS("truncated");
    CHECK_LOAD_ERROR(host, fx.root, PLUGHOST_ERR_MODULE_NOT_LOADABLE); /* a folder */

    CHECK_LOAD_ERROR(host, fx.no_entry, PLUGHOST_ERR_MODULE_ENTRY_MISSING);
    CHECK_LAST_ERROR_CONTAINS("plughost_module_entry_v1");
    CHECK_LOAD_ERROR(host, fx.abi_mismatch, PLUGHOST_ERR_MODULE_ABI_MISMATCH);
    CHECK_LAST_ERROR_CONTAINS("module ABI version 99");
    CHECK_LOAD_ERROR(host, fx.short_table, PLUGHOST_ERR_MODULE_ABI_MISMATCH);
    CHECK_LOAD_ERROR(host, fx.null_entry, PLUGHOST_ERR_MODULE_ABI_MISMATCH);
    CHECK_LOAD_ERROR(host, fx.missing_execute, PLUGHOST_ERR_MODULE_ABI_MISMATCH);
    CHECK_LOAD_ERROR(host, fx.init_fails, PLUGHOST_ERR_MODULE_INIT_FAILED);
    CHECK_LAST_ERROR_CONTAINS("cannot reach the licence server");

    /* Outside the trusted root: directly, through "..", and through a symlink. */
    path_join(path, sizeof path, fx.outside, "libcounter.so");
    CHECK(copy_file_part(fx.counter, path, 1, 1));
    CHECK_LOAD_ERROR(host, path, PLUGHOST_ERR_MODULE_PATH_NOT_TRUSTED);
    CHECK_LAST_ERROR_CONTAINS("outside the trusted module roots");
    path_join(other, sizeof other, fx.root, "../outside/libcounter.so");
    CHECK_LOAD_ERROR(host, other, PLUGHOST_ERR_MODULE_PATH_NOT_TRUSTED);
    path_join(other, sizeof other, fx.root, "link.so");
    CHECK(symlink(path, other) == 0);
    CHECK_LOAD_ERROR(host, other, PLUGHOST_ERR_MODULE_PATH_NOT_TRUSTED);

    CHECK(count_entries(fx.shadow) == 0); /* no failed load leaves a shadow folder */
    free_host(host);
}

/* ---------------------------------------------------------------------------------------------- */
/* Limits and I/O                                                                                 */
/* ---------------------------------------------------------------------------------------------- */

static void test_limits_and_io(void) {
    char text[64];
    plughost_host *host = new_host("\"MaxModules\": 1", "\"Storage\": {\"MaxBytes\": 16}");

    plughost_module_id first = load(host, fx.greeter);
    plughost_module_id id = 0;
    CHECK_STATUS(plughost_module_load(host, STR(fx.counter), &id), PLUGHOST_ERR_LIMIT_REACHED);
    CHECK_LAST_ERROR_CONTAINS("all 1 module slots are in use");
    CHECK_OK(plughost_module_unload(host, first));
    plughost_module_id second = load(host, fx.counter);
    CHECK(second != first);
    CHECK_TEXT(run(host, second, "version", "", text, sizeof text), "1.0.0");

    CHECK_OK(plughost_storage_set(host, STR("key"), STR("0123456789")));  /* 13 of 16 bytes */
    CHECK_STATUS(plughost_storage_set(host, STR("other"), STR("0123")), PLUGHOST_ERR_LIMIT_REACHED);
    CHECK_LAST_ERROR_CONTAINS("storage limit of 16 bytes reached");
    CHECK_OK(plughost_storage_set(host, STR("key"), STR("ab")));           /* replacing frees room */
    CHECK_OK(plughost_storage_set(host, STR("other"), STR("0123")));
    free_host(host);

    /* The shadow directory is a file: copying the module fails with an I/O error. */
    char not_a_folder[PATH_CAP];
    char config[CONFIG_CAP];
    path_join(not_a_folder, sizeof not_a_folder, fx.dir, "not-a-folder");
    CHECK(write_file(not_a_folder, "x", 1));
    make_config(config, sizeof config, not_a_folder, "", "");
    host = NULL;
    CHECK_OK(plughost_host_new(STR(config), &host));
    CHECK_STATUS(plughost_module_load(host, STR(fx.counter), &id), PLUGHOST_ERR_IO);
    CHECK_LAST_ERROR_CONTAINS("cannot create shadow directory");
    free_host(host);
}

/* ---------------------------------------------------------------------------------------------- */
/* Reload                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

static void test_reload(void) {
    plughost_host *host = new_host("", "");
    char text[64];
    uint64_t generation = 0;
    plughost_module_id id = load(host, fx.counter);
    CHECK_TEXT(run(host, id, "increment", "41", text, sizeof text), "41");

    /* From the current source (NULL path): a new generation with the state handed over. */
    CHECK_OK(plughost_module_reload(host, id, NULL, 0, &generation));
    CHECK(generation == 2);
    CHECK_TEXT(run(host, id, "get", "", text, sizeof text), "41");
    CHECK_TEXT(run(host, id, "version", "", text, sizeof text), "1.0.0");

    /* From a new path: version 2 takes the value over. */
    CHECK_OK(plughost_module_reload(host, id, STR(fx.counter_v2), &generation));
    CHECK(generation == 3);
    CHECK_TEXT(run(host, id, "version", "", text, sizeof text), "2.0.0");
    CHECK_TEXT(run(host, id, "get", "", text, sizeof text), "41");
    CHECK_TEXT(run(host, id, "increment", "1", text, sizeof text), "43");
    CHECK_OK(plughost_module_reload(host, id, NULL, 0, NULL)); /* out_generation may be NULL */
    CHECK_TEXT(run(host, id, "version", "", text, sizeof text), "2.0.0");
    CHECK(count_entries(fx.shadow) == 1);

    /* Failed reloads: the serving generation keeps serving with its state. */
    generation = 0;
    CHECK_STATUS(plughost_module_reload(host, id, BAD_UTF8, &generation), PLUGHOST_ERR_INVALID_UTF8);
    CHECK_STATUS(plughost_module_reload(host, id, (const uint8_t *)"", 0, &generation),
                 PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(plughost_module_reload(host, id, STR(fx.init_fails), &generation), PLUGHOST_ERR_MODULE_INIT_FAILED);
    CHECK_LAST_ERROR_CONTAINS("cannot reach the licence server");
    char outside[PATH_CAP];
    path_join(outside, sizeof outside, fx.root, "../outside/libcounter.so");
    CHECK_STATUS(plughost_module_reload(host, id, STR(outside), &generation),
                 PLUGHOST_ERR_MODULE_PATH_NOT_TRUSTED);
    CHECK(generation == 0);
    CHECK_TEXT(run(host, id, "get", "", text, sizeof text), "43");
    CHECK_TEXT(run(host, id, "version", "", text, sizeof text), "2.0.0");
    CHECK(health_contains(host, "\"reload_failures\": 2"));
    CHECK(count_entries(fx.shadow) == 1);

    /* The C module hands its count over too. */
    plughost_module_id greeter = load(host, fx.greeter);
    CHECK_TEXT(run(host, greeter, "greet", "Ada", text, sizeof text), "Hello, Ada!");
    CHECK_OK(plughost_module_reload(host, greeter, NULL, 0, &generation));
    CHECK_TEXT(run(host, greeter, "count", "", text, sizeof text), "2");
    free_host(host);
}

/* Watching module files: switched on and off, read back; the reload it makes is tested from Rust,
   Python and C#. */
static void test_watching(void) {
    plughost_host *host = new_host("\"Watch\": {\"Enabled\": true, \"DebounceMs\": 20}", "");
    uint32_t enabled = 7;
    CHECK_OK(plughost_host_watching(host, &enabled));
    CHECK(enabled == 1);
    plughost_module_id id = load(host, fx.counter);
    CHECK_OK(plughost_host_set_watching(host, 0));
    CHECK_OK(plughost_host_set_watching(host, 0));
    CHECK_OK(plughost_host_watching(host, &enabled));
    CHECK(enabled == 0);
    enabled = 7;
    CHECK_STATUS(plughost_host_set_watching(host, 2), PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_CONTAINS("enabled must be 0 or 1, not 2");
    CHECK_STATUS(plughost_host_watching(host, NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_OK(plughost_host_set_watching(host, 1));
    CHECK_OK(plughost_host_watching(host, &enabled));
    CHECK(enabled == 1);
    CHECK_OK(plughost_module_unload(host, id));
    /* Freeing a watching host ends the watcher's thread. */
    free_host(host);

    CHECK_STATUS(plughost_host_new(STR("{\"PlugHost\": {\"Modules\": {\"Watch\": {\"RetryMs\": 0}}}}"), &host),
                 PLUGHOST_ERR_INVALID_CONFIG);
    CHECK_LAST_ERROR_CONTAINS("$.PlugHost.Modules.Watch.RetryMs: expected an integer from 1 to 3600000, found 0");
}

static void test_state_transfer(void) {
    plughost_host *host = new_host("", "");
    plughost_module_id id = load(host, fx.restore_fails);
    uint64_t generation = 0;
    plughost_buffer buffer = 0;
    CHECK_STATUS(plughost_module_reload(host, id, NULL, 0, &generation), PLUGHOST_ERR_MODULE_STATE_TRANSFER);
    CHECK_LAST_ERROR_CONTAINS("state format changed");
    CHECK_LAST_ERROR_CONTAINS("generation 1 keeps serving");
    CHECK(generation == 0);
    CHECK_OK(plughost_module_execute(host, id, STR("anything"), NULL, 0, &buffer));
    CHECK_OK(plughost_buffer_free(buffer));
    CHECK(count_entries(fx.shadow) == 1);
    free_host(host);
}

/* ---------------------------------------------------------------------------------------------- */
/* Reload while four threads execute                                                              */
/* ---------------------------------------------------------------------------------------------- */

typedef struct hammer {
    const plughost_host *host;
    plughost_module_id module;
    atomic_bool stop;
    atomic_int started;
    atomic_int calls;
    atomic_int failures;
} hammer;

static void *hammer_thread(void *arg) {
    hammer *h = arg;
    bool first = true;
    while (!atomic_load(&h->stop)) {
        plughost_buffer buffer = 0;
        int32_t status = plughost_module_execute(h->host, h->module, STR("increment"), NULL, 0, &buffer);
        if (status == PLUGHOST_OK && plughost_buffer_free(buffer) == PLUGHOST_OK) {
            atomic_fetch_add(&h->calls, 1);
        } else {
            atomic_fetch_add(&h->failures, 1);
            char message[256];
            plughost_last_error_message((uint8_t *)message, sizeof message);
            fprintf(stderr, "execute during reload failed: %s: %s\n", plughost_status_name(status), message);
        }
        if (first) {
            atomic_fetch_add(&h->started, 1);
            first = false;
        }
    }
    return NULL;
}

static void test_reload_under_load(void) {
    enum { THREADS = 4, RELOADS = 6 };
    plughost_host *host = new_host("", "");
    hammer h = {.host = host, .module = load(host, fx.counter)};
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        start(&threads[i], hammer_thread, &h);
    }
    CHECK(wait_for_count(&h.started, THREADS, 10000));
    uint64_t generation = 0;
    for (int i = 0; i < RELOADS; i++) {
        const char *path = i % 2 == 0 ? fx.counter_v2 : fx.counter;
        CHECK_OK(plughost_module_reload(host, h.module, STR(path), &generation));
        sleep_ms(5);
    }
    atomic_store(&h.stop, true);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
    }
    CHECK(generation == RELOADS + 1);
    CHECK(atomic_load(&h.failures) == 0);
    CHECK(atomic_load(&h.calls) > 0);
    /* No increment was lost across the swaps: each added 1 (v1) or 2 (v2). */
    char text[64];
    long value = strtol(run(host, h.module, "get", "", text, sizeof text), NULL, 10);
    long calls = atomic_load(&h.calls);
    CHECK(value >= calls && value <= 2 * calls);
    printf("reload under load: %d reloads, %ld calls, 0 failures expected, %d seen\n", RELOADS, calls,
           atomic_load(&h.failures));
    free_host(host);
}

/* ---------------------------------------------------------------------------------------------- */
/* Drain timeout and pinned generations                                                           */
/* ---------------------------------------------------------------------------------------------- */

static void test_drain_timeout(void) {
    plughost_host *host = new_host("\"UnloadTimeoutMs\": 50", "");
    job slow = {.host = host, .module = load(host, fx.counter), .name = "sleep", .input = "300",
                .expected = PLUGHOST_OK};
    pthread_t thread;
    start(&thread, execute_on_thread, &slow);
    long deadline = now_ms() + 5000;
    while (!health_contains(host, "\"in_flight\": 1") && now_ms() < deadline) {
        sleep_ms(1);
    }
    CHECK(!atomic_load(&slow.done));
    CHECK_STATUS(plughost_module_unload(host, slow.module), PLUGHOST_ERR_MODULE_DRAIN_TIMEOUT);
    CHECK_LAST_ERROR_CONTAINS("still in flight");
    CHECK(health_contains(host, "\"reason\": \"draining\""));
    CHECK(health_contains(host, "\"status\": \"degraded\""));
    /* The id is gone at once; the call in flight still completes. */
    plughost_buffer buffer = 0;
    CHECK_STATUS(plughost_module_execute(host, slow.module, STR("get"), NULL, 0, &buffer),
                 PLUGHOST_ERR_INVALID_HANDLE);
    pthread_join(thread, NULL);
    CHECK(slow.status == PLUGHOST_OK);
    free_host(host); /* finishes the drained generation */
    CHECK(count_entries(fx.shadow) == 0);
}

static void test_pinned_limit(void) {
    plughost_host *host = new_host("\"MaxPinnedGenerations\": 1", "");
    char text[64];
    /* "touch" stores a value with a destructor in a thread-local of this (main) thread, which lives
       on: glibc keeps the library mapped after dlclose, and the host retains it as pinned. */
    plughost_module_id id = load(host, fx.tls_pinned);
    CHECK_TEXT(run(host, id, "touch", "", text, sizeof text), "1");
    CHECK_OK(plughost_module_unload(host, id));
    CHECK(health_contains(host, "\"reason\": \"pinned\""));
    CHECK(health_contains(host, "\"status\": \"unhealthy\""));
    plughost_module_id again = 0;
    CHECK_STATUS(plughost_module_load(host, STR(fx.tls_pinned), &again), PLUGHOST_ERR_MODULE_PINNED_LIMIT);
    CHECK_LAST_ERROR_CONTAINS("limit 1");
    CHECK_STATUS(plughost_module_load(host, STR(fx.counter), &again), PLUGHOST_ERR_MODULE_PINNED_LIMIT);
    CHECK(again == 0);
    free_host(host);
}

/* ---------------------------------------------------------------------------------------------- */
/* Services                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

static void test_services(void) {
    plughost_host *host = new_host("", "");
    service_probe echo = {.reply = "echo:"};
    service_probe failing = {.error = "database is locked"};
    service_probe duplicate = {.reply = "never"};
    plughost_buffer buffer = 0;
    char text[256];

    CHECK_OK(plughost_service_register(host, STR("app.echo"), 0, service_cb, &echo, service_destroy));
    CHECK_OK(plughost_service_register(host, STR("app.fail"), 0, service_cb, &failing, service_destroy));
    CHECK_OK(plughost_service_call(host, STR("app.echo"), STR("hi"), &buffer));
    CHECK_TEXT(take_text(buffer, text, sizeof text), "echo:hi");
    CHECK_OK(plughost_service_call(host, STR("app.echo"), NULL, 0, &buffer));
    CHECK_TEXT(take_text(buffer, text, sizeof text), "echo:");

    /* Registration errors; the user data of a refused registration is released at once. */
    CHECK_STATUS(plughost_service_register(host, STR("app.echo"), 0, service_cb, &duplicate, service_destroy),
                 PLUGHOST_ERR_SERVICE_EXISTS);
    CHECK_LAST_ERROR_CONTAINS("service \"app.echo\" is already registered");
    CHECK(atomic_load(&duplicate.destroyed) == 1);
    CHECK_STATUS(plughost_service_register(host, STR("app.flags"), 0x80, service_cb, NULL, NULL),
                 PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_CONTAINS("unknown service flags 0x80");
    CHECK_STATUS(plughost_service_register(host, (const uint8_t *)"", 0, 0, service_cb, NULL, NULL),
                 PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(plughost_service_register(host, NULL, 0, 0, service_cb, NULL, NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_service_register(host, NULL, 8, 0, service_cb, NULL, NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_service_register(host, STR("app.null"), 0, NULL, NULL, NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_service_register(host, BAD_UTF8, 0, service_cb, NULL, NULL), PLUGHOST_ERR_INVALID_UTF8);

    /* Call errors. */
    buffer = 5;
    CHECK_STATUS(plughost_service_call(host, STR("app.missing"), NULL, 0, &buffer), PLUGHOST_ERR_SERVICE_NOT_FOUND);
    CHECK_LAST_ERROR_CONTAINS("no service named \"app.missing\"");
    CHECK_STATUS(plughost_service_call(host, STR("app.fail"), STR("x"), &buffer), PLUGHOST_ERR_SERVICE_FAILED);
    CHECK_LAST_ERROR_CONTAINS("service \"app.fail\": database is locked");
    CHECK_STATUS(plughost_service_call(host, STR("app.echo"), NULL, 2, &buffer), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_service_call(host, STR("app.echo"), NULL, 0, NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_service_call(host, BAD_UTF8, NULL, 0, &buffer), PLUGHOST_ERR_INVALID_UTF8);
    CHECK_STATUS(plughost_service_call(host, (const uint8_t *)"", 0, NULL, 0, &buffer),
                 PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK(buffer == 5);

    /* Modules reach services through their host table: the Rust counter and the C greeter. */
    plughost_module_id counter = load(host, fx.counter);
    plughost_module_id greeter = load(host, fx.greeter);
    CHECK_TEXT(run(host, counter, "call", "app.echo", text, sizeof text), "echo:from counter");
    CHECK_TEXT(run(host, greeter, "service", "app.echo", text, sizeof text), "echo:from C");
    CHECK_STATUS(plughost_module_execute(host, counter, STR("call"), STR("app.fail"), &buffer),
                 PLUGHOST_ERR_MODULE_FAILED);
    CHECK_LAST_ERROR_CONTAINS("service failed (201): service \"app.fail\": database is locked");
    CHECK_STATUS(plughost_module_execute(host, greeter, STR("service"), STR("app.missing"), &buffer),
                 PLUGHOST_ERR_MODULE_FAILED);
    CHECK_LAST_ERROR_CONTAINS("no service named \"app.missing\"");
    CHECK(atomic_load(&echo.calls) == 4);
    CHECK(atomic_load(&echo.bad_write) == 0 && atomic_load(&failing.bad_write) == 0);

    /* Unregister releases the user data once; a second unregister finds nothing. */
    CHECK_OK(plughost_service_unregister(host, STR("app.echo")));
    CHECK(atomic_load(&echo.destroyed) == 1);
    CHECK_STATUS(plughost_service_unregister(host, STR("app.echo")), PLUGHOST_ERR_SERVICE_NOT_FOUND);
    CHECK_STATUS(plughost_service_unregister(host, BAD_UTF8), PLUGHOST_ERR_INVALID_UTF8);
    CHECK_STATUS(plughost_service_unregister(host, NULL, 0), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_service_call(host, STR("app.echo"), NULL, 0, &buffer), PLUGHOST_ERR_SERVICE_NOT_FOUND);
    CHECK(atomic_load(&echo.destroyed) == 1);

    /* Freeing the host releases the services still registered. */
    CHECK(atomic_load(&failing.destroyed) == 0);
    free_host(host);
    CHECK(atomic_load(&failing.destroyed) == 1);
    CHECK(atomic_load(&duplicate.calls) == 0 && atomic_load(&duplicate.destroyed) == 1);
}

/* ---------------------------------------------------------------------------------------------- */
/* Main thread: main-thread services, pumping, timeouts                                           */
/* ---------------------------------------------------------------------------------------------- */

/* A host with the main-thread service "app.ui", answered by ui, and a pump callback counting into pump. */
static plughost_host *new_ui_host(const char *sections_extra, service_probe *ui, counter_probe *pump) {
    plughost_host *host = new_host("", sections_extra);
    CHECK_OK(plughost_service_register(host, STR("app.ui"), PLUGHOST_SERVICE_MAIN_THREAD, service_cb, ui,
                                       service_destroy));
    CHECK_OK(plughost_host_set_pump_callback(host, pump_cb, pump, counter_destroy));
    return host;
}

static void test_main_thread(void) {
    service_probe ui = {.reply = "ui:"};
    counter_probe pump = {0};
    counter_probe replaced = {0};
    plughost_host *host = new_ui_host("\"Services\": {\"MainThreadCallTimeoutMs\": 30000}", &ui, &replaced);
    pthread_t thread;
    plughost_buffer buffer = 0;
    char text[128];
    uint32_t ran = 0;

    CHECK_OK(plughost_host_set_pump_callback(host, pump_cb, &pump, counter_destroy));
    CHECK(wait_for_count(&replaced.destroyed, 1, 2000));

    /* On the main thread (the one that created the host) the service runs inline. */
    CHECK_OK(plughost_service_call(host, STR("app.ui"), STR("inline"), &buffer));
    CHECK_TEXT(take_text(buffer, text, sizeof text), "ui:inline");
    CHECK(atomic_load(&ui.on_main_thread) == 1);
    CHECK(atomic_load(&pump.calls) == 0);

    /* From another thread the call waits until the main thread pumps. */
    job call = {.host = host, .name = "app.ui", .input = "queued", .expected = PLUGHOST_OK};
    start(&thread, call_service_on_thread, &call);
    uint32_t total = 0;
    long deadline = now_ms() + 5000;
    while (!atomic_load(&call.done) && now_ms() < deadline) {
        if (CHECK_OK(plughost_host_pump(host, 0, &ran))) {
            total += ran;
        }
        sleep_ms(1);
    }
    pthread_join(thread, NULL);
    CHECK(total == 1);
    CHECK_TEXT(call.output, "ui:queued");
    CHECK(atomic_load(&ui.on_main_thread) == 2);
    CHECK(atomic_load(&pump.calls) == 1); /* told once, on the queuing thread */

    /* Nobody pumps: the caller gives up after Services.MainThreadCallTimeoutMs (short on a second
       host, so that the pumped call above never risks it on a slow machine). */
    plughost_host *impatient = new_host("", "\"Services\": {\"MainThreadCallTimeoutMs\": 50}");
    service_probe late = {.reply = "late:"};
    CHECK_OK(plughost_service_register(impatient, STR("app.ui"), PLUGHOST_SERVICE_MAIN_THREAD, service_cb, &late,
                                       NULL));
    job stuck = {.host = impatient, .name = "app.ui", .input = "late", .expected = PLUGHOST_ERR_TIMEOUT};
    start(&thread, call_service_on_thread, &stuck);
    pthread_join(thread, NULL);
    CHECK(stuck.status == PLUGHOST_ERR_TIMEOUT);
    CHECK(strstr(stuck.output, "service \"app.ui\" waited") != NULL);
    ran = 42;
    CHECK_OK(plughost_host_pump(impatient, 0, &ran)); /* the withdrawn call is gone */
    CHECK(ran == 0);
    CHECK_OK(plughost_host_pump(impatient, 0, NULL)); /* out_ran may be NULL */
    CHECK(atomic_load(&late.calls) == 0);
    free_host(impatient);

    /* Pumping is for the main thread only. */
    job wrong = {.host = host, .expected = PLUGHOST_ERR_WRONG_THREAD};
    start(&thread, pump_on_thread, &wrong);
    pthread_join(thread, NULL);
    CHECK(wrong.status == PLUGHOST_ERR_WRONG_THREAD);

    /* Another thread can take the main-thread role; then this one is not main any more. */
    job become = {.host = host};
    start(&thread, become_main_and_pump, &become);
    pthread_join(thread, NULL);
    ran = 42;
    CHECK_STATUS(plughost_host_pump(host, 0, &ran), PLUGHOST_ERR_WRONG_THREAD);
    CHECK_LAST_ERROR_CONTAINS("main thread");
    CHECK(ran == 42);
    CHECK_OK(plughost_host_set_main_thread(host));
    CHECK_OK(plughost_host_pump(host, 1, &ran));
    CHECK(ran == 0);

    /* Clearing the pump callback releases its user data. */
    CHECK_OK(plughost_host_set_pump_callback(host, NULL, NULL, NULL));
    CHECK(wait_for_count(&pump.destroyed, 1, 2000));
    free_host(host);
    CHECK(atomic_load(&ui.destroyed) == 1);
    CHECK(atomic_load(&pump.destroyed) == 1 && atomic_load(&replaced.destroyed) == 1);
}

/* A call waiting for the main thread when the host is freed fails with HOST_STOPPED. */
static void test_host_stopped(void) {
    service_probe ui = {.reply = "never"};
    counter_probe pump = {0};
    plughost_host *host = new_ui_host("\"Services\": {\"MainThreadCallTimeoutMs\": 60000}", &ui, &pump);
    job waiting = {.host = host, .name = "app.ui", .input = "x", .expected = PLUGHOST_ERR_HOST_STOPPED};
    pthread_t thread;
    start(&thread, call_service_on_thread, &waiting);
    /* The pump callback runs on the calling thread once the call is queued. */
    CHECK(wait_for_count(&pump.calls, 1, 10000));
    CHECK(!atomic_load(&waiting.done));
    free_host(host);
    pthread_join(thread, NULL);
    CHECK(waiting.status == PLUGHOST_ERR_HOST_STOPPED);
    CHECK(strstr(waiting.output, "the host stopped before the main thread ran this call") != NULL);
    CHECK(atomic_load(&ui.calls) == 0);
    CHECK(atomic_load(&ui.destroyed) == 1 && atomic_load(&pump.destroyed) == 1);
}

/* ---------------------------------------------------------------------------------------------- */
/* Events                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

static void test_events(void) {
    plughost_host *host = new_host("", "");
    event_probe changed = {0};
    event_probe everything = {0};
    uint64_t sub_changed = 0;
    uint64_t sub_all = 0;
    uint64_t untouched = 99;
    char text[64];

    CHECK_OK(plughost_event_subscribe(host, STR("counter.changed"), event_cb, &changed, event_destroy,
                                      &sub_changed));
    CHECK_OK(plughost_event_subscribe(host, STR("*"), event_cb, &everything, event_destroy, &sub_all));
    CHECK(sub_changed != 0 && sub_all != 0 && sub_changed != sub_all);

    /* From the host: source "host". */
    CHECK_OK(plughost_event_publish(host, STR("app.saved"), STR("doc-1")));
    CHECK(atomic_load(&everything.count) == 1 && atomic_load(&changed.count) == 0);
    CHECK_TEXT(everything.topic, "app.saved");
    CHECK_TEXT(everything.source, "host");
    CHECK_TEXT(everything.payload, "doc-1");
    CHECK_OK(plughost_event_publish(host, STR("app.empty"), NULL, 0));
    CHECK_TEXT(everything.payload, "");

    /* From a module: source "counter". */
    plughost_module_id id = load(host, fx.counter);
    CHECK_TEXT(run(host, id, "publish", "7", text, sizeof text), "");
    CHECK(atomic_load(&changed.count) == 1);
    CHECK_TEXT(changed.topic, "counter.changed");
    CHECK_TEXT(changed.source, "counter");
    CHECK_TEXT(changed.payload, "7");
    CHECK(atomic_load(&everything.count) == 3);
    CHECK(atomic_load(&everything.out_of_order) == 0);

    /* Errors. */
    CHECK_STATUS(plughost_event_subscribe(host, (const uint8_t *)"", 0, event_cb, NULL, NULL, &untouched),
                 PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(plughost_event_subscribe(host, BAD_UTF8, event_cb, NULL, NULL, &untouched),
                 PLUGHOST_ERR_INVALID_UTF8);
    CHECK_STATUS(plughost_event_subscribe(host, STR("t"), NULL, NULL, NULL, &untouched), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_event_subscribe(host, STR("t"), event_cb, NULL, NULL, NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_event_subscribe(host, NULL, 3, event_cb, NULL, NULL, &untouched),
                 PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK(untouched == 99);
    CHECK_STATUS(plughost_event_publish(host, STR("t"), NULL, 4), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_event_publish(host, (const uint8_t *)"", 0, NULL, 0), PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(plughost_event_publish(host, BAD_UTF8, NULL, 0), PLUGHOST_ERR_INVALID_UTF8);
    CHECK_STATUS(plughost_event_unsubscribe(host, 0), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_STATUS(plughost_event_unsubscribe(host, RANDOM_ID), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_LAST_ERROR_CONTAINS("no subscription");

    /* Unsubscribe releases the user data once and stops delivery. */
    CHECK_OK(plughost_event_unsubscribe(host, sub_changed));
    CHECK(wait_for_count(&changed.destroyed, 1, 2000));
    CHECK_STATUS(plughost_event_unsubscribe(host, sub_changed), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_TEXT(run(host, id, "publish", "8", text, sizeof text), "");
    CHECK(atomic_load(&changed.count) == 1);
    CHECK(atomic_load(&everything.count) == 4);

    /* Freeing the host releases the remaining subscription. */
    CHECK(atomic_load(&everything.destroyed) == 0);
    free_host(host);
    CHECK(atomic_load(&everything.destroyed) == 1);
    CHECK(atomic_load(&changed.destroyed) == 1);
}

/* ---------------------------------------------------------------------------------------------- */
/* Storage                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

static void test_storage(void) {
    plughost_host *host = new_host("", "");
    plughost_buffer buffer = 0;
    char text[64];
    const uint8_t binary[] = {0, 1, 2, 0xff};

    CHECK_OK(plughost_storage_set(host, STR("app.user"), STR("ada")));
    CHECK_OK(plughost_storage_get(host, STR("app.user"), &buffer));
    CHECK_TEXT(take_text(buffer, text, sizeof text), "ada");
    CHECK_OK(plughost_storage_set(host, STR("app.user"), STR("grace"))); /* replaces */
    CHECK_OK(plughost_storage_get(host, STR("app.user"), &buffer));
    CHECK_TEXT(take_text(buffer, text, sizeof text), "grace");

    /* Values are bytes, not text. */
    const uint8_t *data = NULL;
    size_t len = 0;
    CHECK_OK(plughost_storage_set(host, STR("app.binary"), binary, sizeof binary));
    CHECK_OK(plughost_storage_get(host, STR("app.binary"), &buffer));
    CHECK_OK(plughost_buffer_data(buffer, &data, &len));
    CHECK(len == sizeof binary && memcmp(data, binary, len) == 0);
    CHECK_OK(plughost_buffer_free(buffer));

    buffer = 3;
    CHECK_STATUS(plughost_storage_get(host, STR("app.missing"), &buffer), PLUGHOST_ERR_KEY_NOT_FOUND);
    CHECK_LAST_ERROR_CONTAINS("no storage key \"app.missing\"");
    CHECK_STATUS(plughost_storage_get(host, BAD_UTF8, &buffer), PLUGHOST_ERR_INVALID_UTF8);
    CHECK_STATUS(plughost_storage_get(host, (const uint8_t *)"", 0, &buffer), PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(plughost_storage_get(host, NULL, 0, &buffer), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_storage_get(host, STR("app.user"), NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK(buffer == 3);
    CHECK_STATUS(plughost_storage_set(host, BAD_UTF8, STR("v")), PLUGHOST_ERR_INVALID_UTF8);
    CHECK_STATUS(plughost_storage_set(host, (const uint8_t *)"", 0, STR("v")), PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(plughost_storage_set(host, STR("app.user"), NULL, 5), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_storage_set(host, NULL, 4, STR("v")), PLUGHOST_ERR_NULL_ARGUMENT);

    /* Modules share the storage. */
    plughost_module_id id = load(host, fx.counter);
    CHECK_TEXT(run(host, id, "store", "from the module", text, sizeof text), "");
    CHECK_OK(plughost_storage_get(host, STR("counter.last"), &buffer));
    CHECK_TEXT(take_text(buffer, text, sizeof text), "from the module");
    free_host(host);
}

/* ---------------------------------------------------------------------------------------------- */
/* Health                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

static void test_health(void) {
    plughost_host *host = new_host("", "");
    plughost_buffer buffer = 77;
    char text[64];

    CHECK_STATUS(plughost_host_health(host, NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    plughost_module_id id = load(host, fx.counter);
    run(host, id, "increment", "", text, sizeof text);
    CHECK(health_contains(host, "\"status\""));
    CHECK(health_contains(host, "\"status\": \"healthy\""));
    CHECK(health_contains(host, "\"name\": \"counter\""));
    CHECK(health_contains(host, "\"abi_version\": 1"));
    CHECK(health_contains(host, "\"version\": \"" PLUGHOST_VERSION "\""));
    CHECK(health_contains(host, "\"command\": \"increment\""));
    CHECK_OK(plughost_host_health(host, &buffer));
    CHECK(buffer != 77);
    CHECK_OK(plughost_buffer_free(buffer));
    free_host(host);
}

static void test_health_checks_and_history(void) {
    plughost_host *host = new_host("", "\"Profile\": \"production\", \"Health\": {\"HistorySize\": 2}");
    plughost_buffer buffer = 77;

    CHECK_STATUS(plughost_host_health_check(host, NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_host_health_history(host, NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK(health_contains(host, "\"profile\": \"production\""));
    CHECK(health_contains(host, "\"last_check\": null"));
    CHECK_OK(plughost_host_health_history(host, &buffer));
    CHECK(buffer_contains(buffer, "[]"));

    plughost_module_id id = load(host, fx.counter);
    CHECK_OK(plughost_host_health_check(host, &buffer));
    CHECK(buffer != 77);
    CHECK(buffer_contains(buffer, "\"trigger\": \"request\""));
    CHECK_OK(plughost_host_health_check(host, &buffer));
    CHECK(buffer_contains(buffer, "\"detail\": \"1 module(s) loaded\""));

    /* A reload that failed is retried (from the file it tried) by the next check's recovery. */
    uint64_t number = 0;
    CHECK_STATUS(plughost_module_reload(host, id, STR(fx.init_fails), &number), PLUGHOST_ERR_MODULE_INIT_FAILED);
    CHECK(health_contains(host, "\"status\": \"degraded\""));
    CHECK(health_contains(host, "\"failed_reload\": {"));
    CHECK_OK(plughost_host_health_check(host, &buffer));
    CHECK(buffer_contains(buffer, "\"outcome\": \"failed\""));
    CHECK(health_contains(host, "\"action\": \"retry reload\""));
    /* A reload that succeeds makes the module healthy again. */
    CHECK_OK(plughost_module_reload(host, id, NULL, 0, &number));
    CHECK(health_contains(host, "\"failed_reload\": null"));
    CHECK(health_contains(host, "\"reasons\": []"));

    /* Two checks kept of three: runs 2 and 3. */
    CHECK_OK(plughost_host_health_history(host, &buffer));
    plughost_buffer again = 0;
    CHECK_OK(plughost_host_health_history(host, &again));
    CHECK(buffer_contains(again, "\"run\": 3"));
    CHECK(!buffer_contains(buffer, "\"run\": 1,"));
    free_host(host);
}

/* ---------------------------------------------------------------------------------------------- */
/* Extensions and packages                                                                        */
/* ---------------------------------------------------------------------------------------------- */

/* An extension folder in a search path is listed; a rescan sees it go; a package that is not a zip
   is reported by validation (status OK, "valid": false) and refused by install. Packing and
   signing are tested from Rust (tests/packages.rs). */
static void test_extensions(void) {
    char search[PATH_CAP], folder[PATH_CAP], manifest[PATH_CAP], entry[PATH_CAP], store[PATH_CAP];
    char bogus[PATH_CAP], sections[4 * PATH_CAP], search_escaped[2 * PATH_CAP], store_escaped[2 * PATH_CAP];
    path_join(search, sizeof search, fx.dir, "extensions");
    path_join(folder, sizeof folder, search, "geo");
    path_join(manifest, sizeof manifest, folder, "extension.toml");
    path_join(entry, sizeof entry, folder, "main.py");
    path_join(store, sizeof store, fx.dir, "store");
    path_join(bogus, sizeof bogus, fx.dir, "bogus.plpkg");
    CHECK(mkdir(search, 0700) == 0 && mkdir(folder, 0700) == 0);
    const char *toml = "[extension]\nname = \"geo\"\nversion = \"1.0.0\"\nkind = \"python\"\nentry = \"main.py\"\n";
    CHECK(write_file(manifest, toml, strlen(toml)));
    CHECK(write_file(entry, "print(1)\n", 9));
    CHECK(write_file(bogus, "not a zip", 9));
    json_escape(search_escaped, sizeof search_escaped, search);
    json_escape(store_escaped, sizeof store_escaped, store);
    fits_or_exit(snprintf(sections, sizeof sections,
                          "\"Extensions\": {\"SearchPaths\": [\"%s\"], \"StoreDirectory\": \"%s\"}", search_escaped,
                          store_escaped),
                 sizeof sections, "the extension settings");
    plughost_host *host = new_host("", sections);

    plughost_buffer buffer = 0;
    CHECK_OK(plughost_host_extensions_json(host, &buffer));
    CHECK(buffer_contains(buffer, "\"order\": [\n    \"geo\"\n  ]"));
    CHECK_OK(plughost_host_extensions_json(host, &buffer));
    CHECK(buffer_contains(buffer, "\"state\": \"ready\""));
    CHECK_STATUS(plughost_host_extensions_json(host, NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK(unlink(manifest) == 0);
    CHECK_OK(plughost_host_rescan_extensions(host));
    CHECK_OK(plughost_host_extensions_json(host, &buffer));
    CHECK(buffer_contains(buffer, "\"order\": []"));

    CHECK_STATUS(plughost_host_install_package(host, STR(bogus)), PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_CONTAINS("not a valid zip file");
    CHECK_STATUS(plughost_host_install_package(host, NULL, 0), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_host_install_package(host, BAD_UTF8), PLUGHOST_ERR_INVALID_UTF8);
    free_host(host);

    CHECK_OK(plughost_package_validate(STR(bogus), NULL, 0, &buffer));
    CHECK(buffer_contains(buffer, "\"valid\": false"));
    CHECK_OK(plughost_package_validate(STR(bogus), STR("{\"AllowUnsigned\": false}"), &buffer));
    CHECK(buffer_contains(buffer, "not a valid zip file"));
    CHECK_STATUS(plughost_package_validate(STR(bogus), STR("{\"AllowUnsigned\": 1}"), &buffer),
                 PLUGHOST_ERR_INVALID_CONFIG);
    CHECK_LAST_ERROR_CONTAINS("$.AllowUnsigned: expected true or false");
    CHECK_STATUS(plughost_package_validate(STR(bogus), NULL, 0, NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_package_validate(STR(""), NULL, 0, &buffer), PLUGHOST_ERR_INVALID_ARGUMENT);
}

/* ---------------------------------------------------------------------------------------------- */
/* Coverage of the status codes                                                                   */
/* ---------------------------------------------------------------------------------------------- */

static void test_every_status_was_provoked(void) {
    for (size_t i = 0; i < COUNT(STATUSES); i++) {
        int32_t code = STATUSES[i].code;
        if (code == PLUGHOST_ERR_PANIC || code == PLUGHOST_ERR_IPC_MALFORMED || code == PLUGHOST_ERR_IPC_INCOMPATIBLE) {
            continue; /* see the top of this file */
        }
        if (!CHECK(code >= 0 && code < STATUS_SLOTS)) {
            continue; /* raise STATUS_SLOTS */
        }
        if (!atomic_load(&g_provoked[code])) {
            char what[128];
            snprintf(what, sizeof what, "%s was never provoked", STATUSES[i].name);
            check_at(false, what, __FILE__, __LINE__);
        } else {
            atomic_fetch_add(&g_passed, 1);
        }
    }
}


/* ---------------------------------------------------------------------------------------------- */
/* IPC sessions: this program is peer A, examples/c/ipc_peer.c peer B                              */
/* ---------------------------------------------------------------------------------------------- */

/* Sessions are freed but their tombstones kept reachable, as for hosts (see keep_freed). */
static void free_session(plughost_session *session) {
    keep_freed(session);
    plughost_session_free(session);
}

/* Call peer.method on `channel`; the answer as text in `out` ("" on failure), the status returned. */
static int32_t session_call(const plughost_session *session, uint32_t channel, const char *method, const char *input,
                            char *out, size_t cap) {
    plughost_buffer answer = 0;
    out[0] = '\0';
    int32_t status =
        plughost_session_call(session, channel, STR("peer"), STR(method), STR(input), 10000, &answer);
    if (status == PLUGHOST_OK) {
        take_text(answer, out, cap);
    }
    return status;
}

typedef struct {
    atomic_int count;
    atomic_int destroyed;
    char topic[64];
    char payload[64];
} session_event_probe;

static void session_event_cb(void *user_data, const uint8_t *topic, size_t topic_len, const uint8_t *payload,
                             size_t payload_len) {
    session_event_probe *probe = user_data;
    snprintf(probe->topic, sizeof probe->topic, "%.*s", (int)topic_len, (const char *)topic);
    snprintf(probe->payload, sizeof probe->payload, "%.*s", (int)payload_len, (const char *)payload);
    atomic_fetch_add(&probe->count, 1);
}

static void session_event_destroy(void *user_data) {
    atomic_fetch_add(&((session_event_probe *)user_data)->destroyed, 1);
}

static atomic_int g_greet_destroyed;

/* The host's service "host": greet answers "hello " + input. */
static int32_t greet_handler(void *user_data, const uint8_t *method, size_t method_len, const uint8_t *input,
                             size_t input_len, plughost_output *output) {
    (void)user_data;
    if (method_len != 5 || memcmp(method, "greet", 5) != 0) {
        plughost_output_set_error(output, STR("unknown method"));
        return PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND;
    }
    plughost_output_write(output, STR("hello "));
    return plughost_output_write(output, input, input_len);
}

static void greet_destroy(void *user_data) {
    (void)user_data;
    atomic_fetch_add(&g_greet_destroyed, 1);
}

/* Start a session with the C peer; NULL options are the defaults. */
static plughost_session *start_peer(const char *options) {
    plughost_session *session = NULL;
    uint32_t pid = 0;
    CHECK_OK(plughost_session_create(options ? (const uint8_t *)options : NULL, options ? strlen(options) : 0,
                                     &session));
    CHECK_OK(plughost_session_spawn(session, STR(fx.ipc_peer), NULL, 0, &pid));
    CHECK(pid > 0);
    return session;
}

typedef struct {
    const plughost_session *session;
    int index;
    atomic_int *wrong;
} echo_job;

static void *echo_many(void *arg) {
    echo_job *job = arg;
    char input[32];
    char answer[32];
    for (int i = 0; i < 200; i++) {
        snprintf(input, sizeof input, "t%d-%d", job->index, i);
        if (session_call(job->session, 1, "echo", input, answer, sizeof answer) != PLUGHOST_OK ||
            strcmp(answer, input) != 0) {
            atomic_fetch_add(job->wrong, 1);
        }
    }
    return NULL;
}

static void test_ipc_sessions(void) {
    plughost_session *session = start_peer("{\"HeartbeatIntervalMs\": 50}");
    session_event_probe events = {0};
    char text[256];
    CHECK_OK(plughost_session_register(session, 1, STR("host"), greet_handler, NULL, greet_destroy));
    CHECK_OK(plughost_session_on_event(session, PLUGHOST_SESSION_EVERY_CHANNEL, session_event_cb, &events,
                                       session_event_destroy));

    CHECK_OK(session_call(session, 1, "echo", "ping", text, sizeof text));
    CHECK_TEXT(text, "ping");
    CHECK_OK(session_call(session, 1, "upper", "shout", text, sizeof text));
    CHECK_TEXT(text, "SHOUT");
    /* A nested call: the peer calls the host's service while the host waits for its answer. */
    CHECK_OK(session_call(session, 1, "ask-host", "C", text, sizeof text));
    CHECK_TEXT(text, "peer heard: hello C");
    /* Channel 2 has its own "peer" service. */
    CHECK_OK(session_call(session, 2, "channel", "", text, sizeof text));
    CHECK_TEXT(text, "two");
    CHECK_STATUS(session_call(session, 3, "echo", "", text, sizeof text), PLUGHOST_ERR_SERVICE_NOT_FOUND);
    CHECK_LAST_ERROR_CONTAINS("on channel 3");
    CHECK_STATUS(session_call(session, 0, "echo", "", text, sizeof text), PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_CONTAINS("control channel");
    /* The peer's handler fails with a status of its own and a message. */
    CHECK_STATUS(session_call(session, 1, "fail", "no", text, sizeof text), PLUGHOST_ERR_IPC_REMOTE_FAILED);
    CHECK_LAST_ERROR_CONTAINS("PLUGHOST_ERR_INVALID_ARGUMENT (2): refused: no");

    /* Events both ways: the peer publishes one during a call; the host publishes two. */
    CHECK_OK(session_call(session, 1, "publish", "news", text, sizeof text));
    CHECK(atomic_load(&events.count) == 1);
    CHECK_TEXT(events.topic, "from-peer");
    CHECK_TEXT(events.payload, "news");
    CHECK_OK(plughost_session_publish(session, 1, STR("a"), STR("1"), 1000));
    CHECK_OK(plughost_session_publish(session, 2, STR("b"), NULL, 0, 1000));
    CHECK_OK(session_call(session, 1, "events", "", text, sizeof text));
    CHECK_TEXT(text, "2");

    /* Four threads call at once. */
    pthread_t threads[4];
    echo_job jobs[4];
    atomic_int wrong = 0;
    for (int i = 0; i < 4; i++) {
        jobs[i] = (echo_job){session, i, &wrong};
        CHECK(pthread_create(&threads[i], NULL, echo_many, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
    }
    CHECK(atomic_load(&wrong) == 0);

    plughost_buffer json = 0;
    char big[4096];
    CHECK_OK(plughost_session_stats_json(session, &json));
    take_text(json, big, sizeof big);
    CHECK(strstr(big, "\"open\":true") != NULL && strstr(big, "\"side\":\"a\"") != NULL);
    CHECK(strstr(big, "\"requests_served\":1") != NULL); /* the nested greet */
    CHECK_OK(plughost_session_peer_registry_json(session, 5000, &json));
    take_text(json, big, sizeof big);
    CHECK(strstr(big, "\"channel\":2") != NULL && strstr(big, "\"name\":\"peer\"") != NULL);
    CHECK_OK(plughost_session_status(session));

    CHECK_OK(plughost_session_unregister(session, 1, STR("host")));
    CHECK(atomic_load(&g_greet_destroyed) == 1);
    CHECK_STATUS(plughost_session_unregister(session, 1, STR("host")), PLUGHOST_ERR_SERVICE_NOT_FOUND);

    /* The peer crashes in the middle of a call: the call fails at once, and so does everything after. */
    CHECK_STATUS(session_call(session, 1, "abort", "", text, sizeof text), PLUGHOST_ERR_IPC_PEER_DEAD);
    CHECK_STATUS(plughost_session_status(session), PLUGHOST_ERR_IPC_PEER_DEAD);
    CHECK_STATUS(plughost_session_publish(session, 1, STR("late"), NULL, 0, 100), PLUGHOST_ERR_IPC_PEER_DEAD);
    CHECK(atomic_load(&events.destroyed) == 0);
    free_session(session);
    CHECK(atomic_load(&events.destroyed) == 1);
    CHECK_STATUS(plughost_session_status(session), PLUGHOST_ERR_INVALID_HANDLE);
    plughost_session_free(session); /* a second free is ignored */

    /* A clean end: close says goodbye, the peer leaves, later calls fail with IPC_CLOSED. */
    session = start_peer(NULL);
    CHECK_OK(session_call(session, 1, "echo", "x", text, sizeof text));
    CHECK_OK(plughost_session_close(session));
    CHECK_OK(plughost_session_close(session));
    CHECK_STATUS(session_call(session, 1, "echo", "x", text, sizeof text), PLUGHOST_ERR_IPC_CLOSED);
    CHECK_STATUS(plughost_session_status(session), PLUGHOST_ERR_IPC_CLOSED);
    free_session(session);
}

static int32_t never_called(void *user_data, const uint8_t *method, size_t method_len, const uint8_t *input,
                            size_t input_len, plughost_output *output) {
    (void)user_data, (void)method, (void)method_len, (void)input, (void)input_len, (void)output;
    return PLUGHOST_ERR_SERVICE_FAILED;
}

static void test_ipc_session_errors(void) {
    plughost_session *session = (plughost_session *)0x1;
    plughost_buffer out = 0;
    CHECK_STATUS(plughost_session_create(STR("{\"RingCapacity\": 1000}"), &session), PLUGHOST_ERR_INVALID_CONFIG);
    CHECK_LAST_ERROR_CONTAINS("power of two");
    CHECK_STATUS(plughost_session_create(BAD_UTF8, &session), PLUGHOST_ERR_INVALID_UTF8);
    CHECK_STATUS(plughost_session_create(NULL, 0, NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK(session == (plughost_session *)0x1);
    /* This process was not started with a session. */
    CHECK_STATUS(plughost_session_attach(NULL, 0, &session), PLUGHOST_ERR_IPC_SETUP);
    CHECK_STATUS(plughost_session_status(NULL), PLUGHOST_ERR_NULL_ARGUMENT);

    /* A session without a peer: calls time out; small slots refuse large messages. */
    const char *small = "{\"RingCapacity\": 65536, \"SlotClasses\": [{\"Size\": 4096, \"Count\": 2}]}";
    CHECK_OK(plughost_session_create(STR(small), &session));
    static uint8_t large[8192];
    CHECK_STATUS(plughost_session_publish(session, 1, STR("t"), large, sizeof large, 100), PLUGHOST_ERR_IPC_TOO_LARGE);
    CHECK_STATUS(plughost_session_call(session, 1, STR("s"), STR("m"), NULL, 0, 50, &out), PLUGHOST_ERR_IPC_TIMEOUT);
    CHECK_STATUS(plughost_session_call(session, 1, STR("s"), STR("m"), NULL, 0, 50, NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_session_call(session, 1, BAD_UTF8, STR("m"), NULL, 0, 50, &out), PLUGHOST_ERR_INVALID_UTF8);
    CHECK_STATUS(plughost_session_register(session, 0, STR("s"), never_called, NULL, NULL), PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(plughost_session_register(session, 1, STR("s"), NULL, NULL, NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_session_on_event(session, 1, NULL, NULL, NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_session_spawn(session, STR("/no/such/peer"), NULL, 0, NULL), PLUGHOST_ERR_IPC_SETUP);
    CHECK_STATUS(plughost_session_spawn(session, STR("/bin/true"), STR("not json"), NULL),
                 PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_OK(plughost_session_serve(session, 20));
    CHECK_OK(plughost_session_serve_in_background(session));
    CHECK_OK(plughost_session_serve_in_background(session));
    CHECK_STATUS(plughost_session_stats_json(session, NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_session_peer_registry_json(session, 50, &out), PLUGHOST_ERR_IPC_TIMEOUT);
    free_session(session);
    CHECK_STATUS(plughost_session_serve(session, 1), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_STATUS(plughost_session_close(session), PLUGHOST_ERR_INVALID_HANDLE);
    plughost_session_free(NULL);
}

/* ---------------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------------- */
/* The plugin side: plughost_plugin_* outside a running plugin (examples/c/plugin_c.c runs under  */
/* a host in tests/c_api.rs)                                                                      */
/* ---------------------------------------------------------------------------------------------- */

static int32_t plugin_process_never(void *user_data, const uint8_t *command, size_t command_len,
                                    const uint8_t *input, size_t input_len, plughost_output *output) {
    (void)user_data, (void)command, (void)command_len, (void)input, (void)input_len, (void)output;
    return PLUGHOST_OK;
}

static void test_plugin_side(void) {
    plughost_buffer out = 7;
    uint64_t id = 7;
    CHECK_STATUS(plughost_plugin_log(PLUGHOST_LOG_INFO, STR("hello")), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_LAST_ERROR_CONTAINS("no plugin is running");
    CHECK_STATUS(plughost_plugin_log(PLUGHOST_LOG_INFO, BAD_UTF8), PLUGHOST_ERR_INVALID_UTF8);
    CHECK_STATUS(plughost_plugin_storage_get(STR("k"), &out), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_STATUS(plughost_plugin_storage_get(STR("k"), NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_plugin_storage_set(STR("k"), STR("v")), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_STATUS(plughost_plugin_storage_set(NULL, 3, STR("v")), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_plugin_call_service(STR("s"), NULL, 0, &out), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_STATUS(plughost_plugin_call_service(STR(""), NULL, 0, &out), PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(plughost_plugin_publish(STR("t"), STR("p"), NULL), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_STATUS(plughost_plugin_publish(STR("t"), STR("p"), &id), PLUGHOST_ERR_INVALID_HANDLE);
    counter_probe probe = {0};
    CHECK_STATUS(plughost_plugin_subscribe(STR("t"), event_cb, &probe, counter_destroy, &id),
                 PLUGHOST_ERR_INVALID_HANDLE);
    CHECK(atomic_load(&probe.destroyed) == 1); /* plughost owned the user data, even on failure */
    CHECK_STATUS(plughost_plugin_subscribe(STR("t"), NULL, &probe, counter_destroy, &id), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK(atomic_load(&probe.destroyed) == 2);
    CHECK_STATUS(plughost_plugin_unsubscribe(1), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_STATUS(plughost_plugin_name(&out), PLUGHOST_ERR_INVALID_HANDLE);
    CHECK_STATUS(plughost_plugin_name(NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK(out == 7 && id == 7); /* outputs are written only on success */

    /* plughost_plugin_run refuses bad definitions, and a process no host started: exit code 2. */
    CHECK(plughost_plugin_run(NULL) == 2);
    plughost_plugin_def def = {PLUGHOST_PLUGIN_ABI_VERSION, sizeof def, NULL, NULL, plugin_process_never, NULL};
    def.abi_version = 99;
    CHECK(plughost_plugin_run(&def) == 2);
    def.abi_version = PLUGHOST_PLUGIN_ABI_VERSION;
    def.struct_size = 8;
    CHECK(plughost_plugin_run(&def) == 2);
    def.struct_size = sizeof def;
    def.process = NULL;
    CHECK(plughost_plugin_run(&def) == 2);
    def.process = plugin_process_never;
    CHECK(plughost_plugin_run(&def) == 2);
}

/* ---------------------------------------------------------------------------------------------- */
/* Plugins from the host's side: examples/c/plugin_c.c declared in the configuration               */
/* ---------------------------------------------------------------------------------------------- */

typedef struct {
    atomic_int changes;
    atomic_int restarting;
    atomic_int destroyed;
} plugin_state_probe;

static void plugin_state_cb(void *user_data, const uint8_t *plugin, size_t plugin_len, uint32_t from, uint32_t to,
                            const uint8_t *reason, size_t reason_len) {
    plugin_state_probe *probe = user_data;
    (void)plugin, (void)plugin_len, (void)from, (void)reason, (void)reason_len;
    atomic_fetch_add(&probe->changes, 1);
    if (to == PLUGHOST_PLUGIN_RESTARTING) {
        atomic_fetch_add(&probe->restarting, 1);
    }
}

static void plugin_state_destroy(void *user_data) {
    atomic_fetch_add(&((plugin_state_probe *)user_data)->destroyed, 1);
}

/* Call a command of plugin "cplug"; the answer as text in `out` ("" on failure), the status returned. */
static int32_t plugin_call(const plughost_host *host, const char *command, const char *input, char *out, size_t cap) {
    plughost_buffer answer = 0;
    out[0] = '\0';
    int32_t status = plughost_plugin_call(host, STR("cplug"), STR(command), STR(input), 0, &answer);
    if (status == PLUGHOST_OK) {
        take_text(answer, out, cap);
    }
    return status;
}

static void test_plugins_host_side(void) {
    char config[4 * PATH_CAP];
    fits_or_exit(snprintf(config, sizeof config,
                          "{\"PlugHost\": {\"Plugins\": {\"Declared\": [{\"Name\": \"cplug\", \"Path\": \"%s\", "
                          "\"BackoffMs\": 5}, {\"Name\": \"ghost\", \"Path\": \"/no/such/plugin\", \"Restart\": "
                          "\"never\"}]}}}",
                          fx.plugin_c),
                 sizeof config, "plugin configuration");
    plughost_host *host = NULL;
    CHECK_OK(plughost_host_new(STR(config), &host));
    plugin_state_probe probe = {0};
    uint64_t subscription = 0;
    CHECK_OK(plughost_plugin_subscribe_states(host, plugin_state_cb, &probe, plugin_state_destroy, &subscription));
    uint32_t state = 99;
    CHECK_OK(plughost_plugin_state(host, STR("cplug"), &state));
    CHECK(state == PLUGHOST_PLUGIN_RUNNING);
    CHECK_OK(plughost_plugin_state(host, STR("ghost"), &state));
    CHECK(state == PLUGHOST_PLUGIN_CRASHED);

    char text[256];
    CHECK_OK(plugin_call(host, "upper", "shout", text, sizeof text));
    CHECK_TEXT(text, "SHOUT");
    /* A nested host-service call: the plugin stores into the host's storage during the call. */
    CHECK_OK(plugin_call(host, "store", "from_c=kept", text, sizeof text));
    plughost_buffer value = 0;
    CHECK_OK(plughost_storage_get(host, STR("from_c"), &value));
    CHECK_TEXT(take_text(value, text, sizeof text), "kept");
    CHECK_STATUS(plugin_call(host, "nope", "", text, sizeof text), PLUGHOST_ERR_PLUGIN_FAILED);
    CHECK_LAST_ERROR_CONTAINS("no such command");
    CHECK_STATUS(plughost_plugin_call(host, STR("nobody"), STR("echo"), NULL, 0, 0, &value),
                 PLUGHOST_ERR_PLUGIN_NOT_FOUND);
    CHECK_STATUS(plughost_plugin_start(host, STR("ghost")), PLUGHOST_ERR_PLUGIN_START_FAILED);
    CHECK_LAST_ERROR_CONTAINS("/no/such/plugin");

    /* A crash in the middle of a call: the call fails, the plugin restarts, the next call works. */
    CHECK_OK(plugin_call(host, "pid", "", text, sizeof text));
    char before[sizeof text];
    memcpy(before, text, sizeof text);
    CHECK_STATUS(plugin_call(host, "abort", "", text, sizeof text), PLUGHOST_ERR_PLUGIN_CRASHED);
    CHECK_OK(plugin_call(host, "echo", "back", text, sizeof text));
    CHECK_TEXT(text, "back");
    CHECK_OK(plugin_call(host, "pid", "", text, sizeof text));
    CHECK(strcmp(text, before) != 0);
    CHECK(atomic_load(&probe.restarting) == 1);

    plughost_buffer json = 0;
    char big[8192];
    CHECK_OK(plughost_plugin_list(host, &json));
    take_text(json, big, sizeof big);
    CHECK(strstr(big, "\"name\":\"cplug\"") != NULL && strstr(big, "\"crashes\":1") != NULL);

    CHECK_OK(plughost_plugin_stop(host, STR("cplug")));
    CHECK_OK(plughost_plugin_state(host, STR("cplug"), &state));
    CHECK(state == PLUGHOST_PLUGIN_STOPPED);
    CHECK_STATUS(plugin_call(host, "echo", "", text, sizeof text), PLUGHOST_ERR_PLUGIN_NOT_RUNNING);
    CHECK_OK(plughost_plugin_start(host, STR("cplug")));
    CHECK_OK(plugin_call(host, "echo", "again", text, sizeof text));
    CHECK_TEXT(text, "again");

    /* Bad arguments. */
    CHECK_STATUS(plughost_plugin_state(host, STR("cplug"), NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_plugin_state(host, BAD_UTF8, &state), PLUGHOST_ERR_INVALID_UTF8);
    CHECK_STATUS(plughost_plugin_list(host, NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_plugin_call(host, STR("cplug"), NULL, 0, NULL, 0, 0, &value), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_plugin_subscribe_states(host, NULL, NULL, NULL, &subscription), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_plugin_unsubscribe_states(host, RANDOM_ID), PLUGHOST_ERR_INVALID_HANDLE);

    CHECK(atomic_load(&probe.changes) > 0);
    CHECK_OK(plughost_plugin_unsubscribe_states(host, subscription));
    CHECK(atomic_load(&probe.destroyed) == 1);
    free_host(host);
    CHECK_STATUS(plughost_plugin_stop(host, STR("cplug")), PLUGHOST_ERR_INVALID_HANDLE);
}

/* Run a Python request; the answer (or, for PYTHON_ERROR, the exception's answer) as text in `out`. */
static int32_t python_run(const plughost_host *host, const char *request, char *out, size_t cap) {
    plughost_buffer answer = 0;
    out[0] = '\0';
    int32_t status = plughost_python_run(host, STR(request), &answer);
    if (status == PLUGHOST_OK || status == PLUGHOST_ERR_PYTHON_ERROR) {
        take_text(answer, out, cap);
    }
    return status;
}

static void *python_sleep(void *arg) {
    char text[512];
    CHECK_OK(python_run((const plughost_host *)arg, "{\"code\": \"import time\\ntime.sleep(0.8)\"}", text, sizeof text));
    return NULL;
}

static void test_python_pool(void) {
    char config[4 * PATH_CAP];
    fits_or_exit(snprintf(config, sizeof config,
                          "{\"PlugHost\": {\"Python\": {\"WorkerPath\": \"%s\", \"Workers\": 1, \"QueueLimit\": 0, "
                          "\"MemoryLimitMb\": 300}}}",
                          fx.python_worker),
                 sizeof config, "Python configuration");
    plughost_host *host = NULL;
    CHECK_OK(plughost_host_new(STR(config), &host));
    char text[4096];
    CHECK_OK(python_run(host, "{\"code\": \"print('hi')\\nsum(args)\", \"args\": [1, 2, 3]}", text, sizeof text));
    CHECK(strstr(text, "\"result\":6") != NULL && strstr(text, "\"stdout\":\"hi\\n\"") != NULL);
    CHECK_OK(python_run(host, "{\"code\": \"b'ab'\"}", text, sizeof text));
    CHECK(strstr(text, "\"result_base64\":\"YWI=\"") != NULL);
    /* A script's exception: the status, and the answer with the exception and the output so far. */
    CHECK_STATUS(python_run(host, "{\"code\": \"print('partial')\\n1/0\"}", text, sizeof text),
                 PLUGHOST_ERR_PYTHON_ERROR);
    CHECK(strstr(text, "\"type\":\"ZeroDivisionError\"") != NULL && strstr(text, "partial") != NULL);
    CHECK_LAST_ERROR_CONTAINS("ZeroDivisionError");
    CHECK_STATUS(python_run(host, "{\"code\": \"1\", \"colour\": 2}", text, sizeof text), PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_CONTAINS("colour");

    /* Sessions; a crash loses the session once; a timeout; the memory limit. */
    uint32_t existed = 9;
    CHECK_OK(python_run(host, "{\"code\": \"n = 1\", \"session\": \"s\"}", text, sizeof text));
    CHECK_OK(python_run(host, "{\"code\": \"n + 1\", \"session\": \"s\"}", text, sizeof text));
    CHECK(strstr(text, "\"result\":2") != NULL);
    CHECK_STATUS(python_run(host, "{\"code\": \"import os\\nos._exit(4)\", \"session\": \"s\"}", text, sizeof text),
                 PLUGHOST_ERR_PYTHON_WORKER_CRASHED);
    CHECK_STATUS(python_run(host, "{\"code\": \"n\", \"session\": \"s\"}", text, sizeof text),
                 PLUGHOST_ERR_PYTHON_SESSION_LOST);
    CHECK_OK(python_run(host, "{\"code\": \"m = 1\", \"session\": \"t\"}", text, sizeof text));
    CHECK_OK(plughost_python_drop_session(host, STR("t"), &existed));
    CHECK(existed == 1);
    CHECK_OK(plughost_python_drop_session(host, STR("t"), &existed));
    CHECK(existed == 0);
    CHECK_STATUS(python_run(host, "{\"code\": \"while True: pass\", \"timeout_ms\": 300}", text, sizeof text),
                 PLUGHOST_ERR_TIMEOUT);
    CHECK_STATUS(python_run(host, "{\"code\": \"x = bytearray(1 << 30)\"}", text, sizeof text),
                 PLUGHOST_ERR_PYTHON_MEMORY_LIMIT);
    CHECK_OK(python_run(host, "{\"code\": \"'alive'\"}", text, sizeof text));

    /* One worker busy and no queue: saturated. */
    pthread_t sleeper;
    CHECK(pthread_create(&sleeper, NULL, python_sleep, host) == 0);
    struct timespec pause = {0, 300 * 1000 * 1000};
    nanosleep(&pause, NULL);
    CHECK_STATUS(python_run(host, "{\"code\": \"1\"}", text, sizeof text), PLUGHOST_ERR_POOL_SATURATED);
    pthread_join(sleeper, NULL);

    /* Bad arguments. */
    plughost_buffer out = 0;
    CHECK_STATUS(plughost_python_run(host, NULL, 0, &out), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_python_run(host, STR("{\"code\": \"1\"}"), NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    CHECK_STATUS(plughost_python_run(host, BAD_UTF8, &out), PLUGHOST_ERR_INVALID_UTF8);
    CHECK_STATUS(plughost_python_drop_session(host, STR(""), &existed), PLUGHOST_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(plughost_python_drop_session(host, STR("t"), NULL), PLUGHOST_ERR_NULL_ARGUMENT);
    free_host(host);
    CHECK_STATUS(plughost_python_run(host, STR("{\"code\": \"1\"}"), &out), PLUGHOST_ERR_INVALID_HANDLE);

    /* No worker program: Python unavailable, with the path in the message. */
    CHECK_OK(plughost_host_new(STR("{\"PlugHost\": {\"Python\": {\"WorkerPath\": \"/no/such/worker\"}}}"), &host));
    CHECK_STATUS(python_run(host, "{\"code\": \"1\"}", text, sizeof text), PLUGHOST_ERR_PYTHON_UNAVAILABLE);
    CHECK_LAST_ERROR_CONTAINS("/no/such/worker");
    free_host(host);
}

int main(void) {
    g_main_thread = pthread_self();
    setvbuf(stdout, NULL, _IOLBF, 0);
    load_fixtures();

    static const struct {
        const char *name;
        void (*run)(void);
    } tests[] = {
        {"versions and status names", test_versions_and_status_names},
        {"last error", test_last_error},
        {"configuration", test_config},
        {"host handles", test_host_handles},
        {"logging", test_logging},
        {"buffers", test_buffers},
        {"module calls", test_module_calls},
        {"module load errors", test_module_load_errors},
        {"limits and I/O", test_limits_and_io},
        {"reload", test_reload},
        {"watching", test_watching},
        {"state transfer", test_state_transfer},
        {"reload under load", test_reload_under_load},
        {"drain timeout", test_drain_timeout},
        {"services", test_services},
        {"main thread", test_main_thread},
        {"host stopped", test_host_stopped},
        {"events", test_events},
        {"storage", test_storage},
        {"health", test_health},
        {"health checks and history", test_health_checks_and_history},
        {"extensions and packages", test_extensions},
        {"IPC sessions", test_ipc_sessions},
        {"IPC session errors", test_ipc_session_errors},
        {"plugin side", test_plugin_side},
        {"plugins, host side", test_plugins_host_side},
        {"Python pool", test_python_pool},
        /* Last: the pinned generation stays mapped (and its shadow folder stays) for good. */
        {"pinned limit", test_pinned_limit},
        {"every status provoked", test_every_status_was_provoked},
    };
    for (size_t i = 0; i < COUNT(tests); i++) {
        int failed_before = atomic_load(&g_failed);
        tests[i].run();
        printf("%-28s %s\n", tests[i].name, atomic_load(&g_failed) == failed_before ? "ok" : "FAILED");
    }
    int failed = atomic_load(&g_failed);
    printf("%d passed, %d failed\n", atomic_load(&g_passed), failed);
    return failed == 0 ? 0 : 1;
}
