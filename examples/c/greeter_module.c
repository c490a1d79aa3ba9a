/*
 * Example work module in C: greets, counts, and hands its count to the next generation.
 *
 * Build: cc -shared -fPIC -I include -o libgreeter.so examples/c/greeter_module.c
 * Define GREETER_VERSION_2 for a second version that greets differently.
 *
 * Commands: "greet" (input: a name) -> "Hello, <name>!", "count" -> calls so far,
 * "fail" -> an error with a message, "service" (input: a service name) -> that service's result.
 */
#include "plughost_module.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef GREETER_VERSION_2
#define GREETER_VERSION "2.0.0"
#define GREETING "Good day, "
#else
#define GREETER_VERSION "1.0.0"
#define GREETING "Hello, "
#endif

typedef struct greeter {
    const plughost_host_api_v1 *host;
    atomic_long count;
} greeter;

typedef struct byte_buffer {
    char data[256];
    size_t len;
} byte_buffer;

static void collect(void *user, const uint8_t *data, size_t len) {
    byte_buffer *b = (byte_buffer *)user;
    size_t room = sizeof b->data - b->len;
    size_t n = len < room ? len : room;
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static void say(const greeter *g, plughost_module_output *out, const char *text) {
    g->host->output_write(out, (const uint8_t *)text, strlen(text));
}

static int equals(const uint8_t *s, size_t len, const char *literal) {
    return len == strlen(literal) && memcmp(s, literal, len) == 0;
}

static int32_t greeter_init(const plughost_host_api_v1 *host, void **instance_out, plughost_module_output *err) {
    greeter *g = (greeter *)calloc(1, sizeof *g);
    if (g == NULL) {
        static const char msg[] = "out of memory";
        host->output_set_error(err, (const uint8_t *)msg, sizeof msg - 1);
        return PLUGHOST_MODULE_ERROR;
    }
    g->host = host;
    atomic_init(&g->count, 0);
    static const char hello[] = "greeter " GREETER_VERSION " ready";
    host->log(host->ctx, PLUGHOST_LOG_INFO, (const uint8_t *)hello, sizeof hello - 1);
    *instance_out = g;
    return PLUGHOST_MODULE_OK;
}

static int32_t greeter_execute(void *instance, const uint8_t *command, size_t command_len, const uint8_t *input,
                               size_t input_len, plughost_module_output *out) {
    greeter *g = (greeter *)instance;
    long n = atomic_fetch_add(&g->count, 1) + 1;
    if (equals(command, command_len, "greet")) {
        say(g, out, GREETING);
        g->host->output_write(out, input, input_len);
        say(g, out, "!");
        return PLUGHOST_MODULE_OK;
    }
    if (equals(command, command_len, "count")) {
        char text[32];
        snprintf(text, sizeof text, "%ld", n);
        say(g, out, text);
        return PLUGHOST_MODULE_OK;
    }
    if (equals(command, command_len, "fail")) {
        static const char msg[] = "greeter was asked to fail";
        g->host->output_set_error(out, (const uint8_t *)msg, sizeof msg - 1);
        return PLUGHOST_MODULE_ERROR;
    }
    if (equals(command, command_len, "service")) {
        byte_buffer result = {{0}, 0};
        int32_t status = g->host->call_service(g->host->ctx, input, input_len, (const uint8_t *)"from C", 6, collect, &result);
        if (status != 0) {
            g->host->output_set_error(out, (const uint8_t *)result.data, result.len);
            return PLUGHOST_MODULE_ERROR;
        }
        g->host->output_write(out, (const uint8_t *)result.data, result.len);
        return PLUGHOST_MODULE_OK;
    }
    return PLUGHOST_MODULE_UNKNOWN_COMMAND;
}

static void greeter_shutdown(void *instance) {
    free(instance);
}

static int32_t greeter_save_state(void *instance, plughost_module_output *out) {
    greeter *g = (greeter *)instance;
    char text[32];
    snprintf(text, sizeof text, "%ld", atomic_load(&g->count));
    say(g, out, text);
    return PLUGHOST_MODULE_OK;
}

static int32_t greeter_restore_state(void *instance, const uint8_t *state, size_t state_len, const uint8_t *from_version,
                                     size_t from_version_len, plughost_module_output *err) {
    greeter *g = (greeter *)instance;
    char text[32];
    (void)from_version;
    (void)from_version_len;
    if (state_len == 0 || state_len >= sizeof text) {
        static const char msg[] = "state has a bad length";
        g->host->output_set_error(err, (const uint8_t *)msg, sizeof msg - 1);
        return PLUGHOST_MODULE_ERROR;
    }
    memcpy(text, state, state_len);
    text[state_len] = '\0';
    atomic_store(&g->count, strtol(text, NULL, 10));
    return PLUGHOST_MODULE_OK;
}

static const plughost_module_v1 GREETER = {
    PLUGHOST_MODULE_ABI_VERSION,
    sizeof(plughost_module_v1),
    "greeter",
    GREETER_VERSION,
    greeter_init,
    greeter_execute,
    greeter_shutdown,
    greeter_save_state,
    greeter_restore_state,
};

PLUGHOST_MODULE_EXPORT const plughost_module_v1 *plughost_module_entry_v1(void) {
    return &GREETER;
}
