/*
 * An out-of-process plughost plugin written in C: a program the host starts with an IPC session
 * (run by hand, it exits with code 2). It fills a plughost_plugin_def and returns
 * plughost_plugin_run's exit code from main; the host services are the plughost_plugin_*
 * functions. No Rust needed.
 *
 * Build (Linux; the library comes from `cargo build`):
 *
 *   cc -std=c11 -Wall -Wextra -I include examples/c/plugin_c.c \
 *      -L target/debug -lplughost -Wl,-rpath,$PWD/target/debug -o plugin_c
 *
 * Commands:
 *   echo     answers its input
 *   upper    answers its input in upper case (ASCII)
 *   store    input "key=value": stores value under key in the host's storage
 *   get      input "key": answers the stored value (fails with PLUGHOST_ERR_KEY_NOT_FOUND)
 *   publish  publishes the event "plugin_c.news" with its input; answers the subscribers reached
 *   config   answers the configuration initialize was given
 *   name     answers the plugin's name as the host knows it
 *   call     input "service input": calls the host's service, answers its result
 *   subscribe  input "topic": counts the bus events of topic; answers the subscription id
 *   unsubscribe  input "id": ends that subscription
 *   events   answers how many events the subscriptions received
 *   pid      answers the process id
 *   abort    crashes the process (abort), to show the host survives it
 */
#define _POSIX_C_SOURCE 200809L
#include "plughost.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STR(s) (const uint8_t *)(s), strlen(s)

static char config[1024];
static atomic_uint events_seen;

static int is(const uint8_t *command, size_t len, const char *name) {
    return len == strlen(name) && memcmp(command, name, len) == 0;
}

/* Set the plugin's last failure as the command's error and return its status. */
static int32_t fail_with_last_error(int32_t status, plughost_output *output) {
    char message[512];
    size_t len = plughost_last_error_message((uint8_t *)message, sizeof message);
    plughost_output_set_error(output, (const uint8_t *)message, len < sizeof message ? len : sizeof message - 1);
    return status;
}

/* Answer a buffer plughost returned, and free it. */
static int32_t answer_buffer(plughost_buffer buffer, plughost_output *output) {
    const uint8_t *data = NULL;
    size_t len = 0;
    plughost_buffer_data(buffer, &data, &len);
    int32_t status = plughost_output_write(output, data, len);
    plughost_buffer_free(buffer);
    return status;
}

static void on_event(void *user_data, const uint8_t *topic, size_t topic_len, const uint8_t *source,
                     size_t source_len, const uint8_t *payload, size_t payload_len, uint64_t sequence) {
    (void)user_data, (void)topic, (void)topic_len, (void)source, (void)source_len, (void)payload, (void)payload_len,
        (void)sequence;
    atomic_fetch_add(&events_seen, 1);
}

/* Answer a number as decimal text. */
static int32_t answer_number(unsigned long long n, plughost_output *output) {
    char text[32];
    snprintf(text, sizeof text, "%llu", n);
    return plughost_output_write(output, STR(text));
}

static int32_t plugin_initialize(void *user_data, const uint8_t *text, size_t len, plughost_output *error) {
    (void)user_data;
    if (len >= sizeof config) {
        plughost_output_set_error(error, STR("the configuration is too long"));
        return PLUGHOST_ERR_INVALID_CONFIG;
    }
    memcpy(config, text, len);
    config[len] = '\0';
    return plughost_plugin_log(PLUGHOST_LOG_INFO, STR("plugin_c ready"));
}

static int32_t plugin_process(void *user_data, const uint8_t *command, size_t command_len, const uint8_t *input,
                       size_t input_len, plughost_output *output) {
    (void)user_data;
    int32_t status;
    if (is(command, command_len, "echo")) {
        return plughost_output_write(output, input, input_len);
    }
    if (is(command, command_len, "upper")) {
        for (size_t i = 0; i < input_len; i++) {
            uint8_t c = (uint8_t)toupper(input[i]);
            plughost_output_write(output, &c, 1);
        }
        return PLUGHOST_OK;
    }
    if (is(command, command_len, "store")) {
        const uint8_t *eq = memchr(input, '=', input_len);
        if (eq == NULL) {
            plughost_output_set_error(output, STR("expected key=value"));
            return PLUGHOST_ERR_INVALID_ARGUMENT;
        }
        size_t key_len = (size_t)(eq - input);
        status = plughost_plugin_storage_set(input, key_len, eq + 1, input_len - key_len - 1);
        return status == PLUGHOST_OK ? PLUGHOST_OK : fail_with_last_error(status, output);
    }
    if (is(command, command_len, "get")) {
        plughost_buffer value = 0;
        status = plughost_plugin_storage_get(input, input_len, &value);
        return status == PLUGHOST_OK ? answer_buffer(value, output) : fail_with_last_error(status, output);
    }
    if (is(command, command_len, "publish")) {
        uint64_t reached = 0;
        status = plughost_plugin_publish(STR("plugin_c.news"), input, input_len, &reached);
        return status == PLUGHOST_OK ? answer_number(reached, output) : fail_with_last_error(status, output);
    }
    if (is(command, command_len, "name")) {
        plughost_buffer name = 0;
        status = plughost_plugin_name(&name);
        return status == PLUGHOST_OK ? answer_buffer(name, output) : fail_with_last_error(status, output);
    }
    if (is(command, command_len, "call")) {
        const uint8_t *space = memchr(input, ' ', input_len);
        size_t name_len = space ? (size_t)(space - input) : input_len;
        const uint8_t *argument = space ? space + 1 : NULL;
        plughost_buffer result = 0;
        status = plughost_plugin_call_service(input, name_len, argument, space ? input_len - name_len - 1 : 0, &result);
        return status == PLUGHOST_OK ? answer_buffer(result, output) : fail_with_last_error(status, output);
    }
    if (is(command, command_len, "subscribe")) {
        uint64_t id = 0;
        status = plughost_plugin_subscribe(input, input_len, on_event, NULL, NULL, &id);
        return status == PLUGHOST_OK ? answer_number(id, output) : fail_with_last_error(status, output);
    }
    if (is(command, command_len, "unsubscribe")) {
        char text[32] = {0};
        memcpy(text, input, input_len < sizeof text - 1 ? input_len : sizeof text - 1);
        status = plughost_plugin_unsubscribe(strtoull(text, NULL, 10));
        return status == PLUGHOST_OK ? PLUGHOST_OK : fail_with_last_error(status, output);
    }
    if (is(command, command_len, "events")) {
        return answer_number(atomic_load(&events_seen), output);
    }
    if (is(command, command_len, "config")) {
        return plughost_output_write(output, STR(config));
    }
    if (is(command, command_len, "pid")) {
        return answer_number((unsigned long long)getpid(), output);
    }
    if (is(command, command_len, "abort")) {
        abort();
    }
    plughost_output_set_error(output, STR("plugin_c has no such command"));
    return PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND;
}

static void plugin_shutdown(void *user_data) {
    (void)user_data;
    plughost_plugin_log(PLUGHOST_LOG_INFO, STR("plugin_c stops"));
}

int main(void) {
    plughost_plugin_def def = {
        .abi_version = PLUGHOST_PLUGIN_ABI_VERSION,
        .struct_size = sizeof def,
        .user_data = NULL,
        .initialize = plugin_initialize,
        .process = plugin_process,
        .shutdown = plugin_shutdown,
    };
    return plughost_plugin_run(&def);
}
