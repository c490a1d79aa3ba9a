/*
 * A plughost IPC peer written in C: the child process (peer B) of a session that a host (peer A)
 * created with plughost_session_create and started with plughost_session_spawn. No Rust needed.
 *
 * Build (Linux; the library comes from `cargo build`):
 *
 *   cc -std=c11 -Wall -Wextra -I include examples/c/ipc_peer.c \
 *      -L target/debug -lplughost -Wl,-rpath,$PWD/target/debug -o ipc_peer
 *
 * It serves, on data channel 1, service "peer" with the methods
 *   echo      answers its input
 *   upper     answers its input in upper case (ASCII)
 *   ask-host  calls the host's service "host" method "greet" with its input, in the middle of
 *             its own request (a nested call), and answers "peer heard: " + the host's answer
 *   publish   publishes the event "from-peer" with its input to the host, answers nothing
 *   events    answers how many events the host sent it, as decimal text
 *   fail      fails with PLUGHOST_ERR_INVALID_ARGUMENT and the message "refused: " + input
 *   abort     crashes the process (abort), to show the host survives it
 * and, on data channel 2, service "peer" with the method "channel", which answers "two".
 *
 * It serves until the session ends and exits 0 after the host's goodbye (PLUGHOST_ERR_IPC_CLOSED),
 * 1 otherwise, naming the status on stderr.
 */
#include "plughost.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR(s) (const uint8_t *)(s), strlen(s)

static const plughost_session *session;
static atomic_uint events_seen;

static int is(const uint8_t *method, size_t len, const char *name) {
    return len == strlen(name) && memcmp(method, name, len) == 0;
}

static int32_t ask_host(const uint8_t *input, size_t input_len, plughost_output *output) {
    plughost_buffer answer = 0;
    int32_t status = plughost_session_call(session, PLUGHOST_SESSION_DATA_CHANNEL, STR("host"), STR("greet"), input,
                                           input_len, 5000, &answer);
    if (status != PLUGHOST_OK) {
        char message[512];
        size_t len = plughost_last_error_message((uint8_t *)message, sizeof message);
        plughost_output_set_error(output, (const uint8_t *)message, len < sizeof message ? len : sizeof message - 1);
        return status;
    }
    const uint8_t *data = NULL;
    size_t len = 0;
    plughost_buffer_data(answer, &data, &len);
    plughost_output_write(output, STR("peer heard: "));
    plughost_output_write(output, data, len);
    plughost_buffer_free(answer);
    return PLUGHOST_OK;
}

/* Channel 1, service "peer". */
static int32_t peer_service(void *user_data, const uint8_t *method, size_t method_len, const uint8_t *input,
                            size_t input_len, plughost_output *output) {
    (void)user_data;
    if (is(method, method_len, "echo")) {
        return plughost_output_write(output, input, input_len);
    }
    if (is(method, method_len, "upper")) {
        for (size_t i = 0; i < input_len; i++) {
            uint8_t c = (uint8_t)toupper(input[i]);
            plughost_output_write(output, &c, 1);
        }
        return PLUGHOST_OK;
    }
    if (is(method, method_len, "ask-host")) {
        return ask_host(input, input_len, output);
    }
    if (is(method, method_len, "publish")) {
        return plughost_session_publish(session, PLUGHOST_SESSION_DATA_CHANNEL, STR("from-peer"), input, input_len,
                                        5000);
    }
    if (is(method, method_len, "events")) {
        char text[32];
        snprintf(text, sizeof text, "%u", atomic_load(&events_seen));
        return plughost_output_write(output, STR(text));
    }
    if (is(method, method_len, "fail")) {
        char message[256];
        int n = snprintf(message, sizeof message, "refused: %.*s", (int)(input_len < 200 ? input_len : 200),
                         (const char *)input);
        plughost_output_set_error(output, (const uint8_t *)message, (size_t)n);
        return PLUGHOST_ERR_INVALID_ARGUMENT;
    }
    if (is(method, method_len, "abort")) {
        abort();
    }
    plughost_output_set_error(output, STR("no such method"));
    return PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND;
}

/* Channel 2, service "peer". */
static int32_t channel_two(void *user_data, const uint8_t *method, size_t method_len, const uint8_t *input,
                           size_t input_len, plughost_output *output) {
    (void)user_data, (void)method, (void)method_len, (void)input, (void)input_len;
    return plughost_output_write(output, STR("two"));
}

static void on_event(void *user_data, const uint8_t *topic, size_t topic_len, const uint8_t *payload,
                     size_t payload_len) {
    (void)user_data, (void)topic, (void)topic_len, (void)payload, (void)payload_len;
    atomic_fetch_add(&events_seen, 1);
}

static int failed(const char *what, int32_t status) {
    char message[1024];
    plughost_last_error_message((uint8_t *)message, sizeof message);
    fprintf(stderr, "ipc_peer: %s: %s: %s\n", what, plughost_status_name(status), message);
    return 1;
}

int main(void) {
    plughost_session *s = NULL;
    int32_t status = plughost_session_attach(NULL, 0, &s);
    if (status != PLUGHOST_OK) {
        return failed("attach", status);
    }
    session = s;
    if ((status = plughost_session_register(s, 1, STR("peer"), peer_service, NULL, NULL)) != PLUGHOST_OK ||
        (status = plughost_session_register(s, 2, STR("peer"), channel_two, NULL, NULL)) != PLUGHOST_OK ||
        (status = plughost_session_on_event(s, PLUGHOST_SESSION_EVERY_CHANNEL, on_event, NULL, NULL)) != PLUGHOST_OK) {
        plughost_session_free(s);
        return failed("setup", status);
    }
    while ((status = plughost_session_serve(s, 1000)) == PLUGHOST_OK) {
    }
    int code = status == PLUGHOST_ERR_IPC_CLOSED ? 0 : failed("serve", status);
    plughost_session_free(s);
    return code;
}
