/*
 * A minimal C host for plughost: create a host, log to stderr, offer a service to modules, load a
 * work module, call it, hot-swap it to a new version, print health, and clean up.
 *
 * Build (Linux; the library comes from `cargo build`):
 *
 *   cc -std=c11 -Wall -Wextra -I include examples/c/host.c \
 *      -L target/debug -lplughost -Wl,-rpath,$PWD/target/debug -o host
 *
 * Run with a trusted folder and two builds of the greeter module (examples/c/greeter_module.c,
 * the second built with -DGREETER_VERSION_2) inside it:
 *
 *   ./host <trusted folder> <folder>/libgreeter.so <folder>/libgreeter_v2.so
 *
 * Every plughost call returns a status: PLUGHOST_OK (0) or a PLUGHOST_ERR_* code, with a message
 * for the calling thread in plughost_last_error_message. Strings go in as pointer + length.
 */
#include "plughost.h"

#include <stdio.h>
#include <string.h>

/* A C string as the (pointer, length) pair plughost takes. */
#define STR(s) (const uint8_t *)(s), strlen(s)

/* Report a failed call with its status name and the thread's last error message. */
static int failed(const char *what, int32_t status) {
    char message[1024];
    plughost_last_error_message((uint8_t *)message, sizeof message);
    fprintf(stderr, "%s failed: %s: %s\n", what, plughost_status_name(status), message);
    return 1;
}

/* Log callback: may run on any thread; the strings are valid only during the call. */
static void log_to_stderr(void *user_data, uint32_t level, const uint8_t *target, size_t target_len,
                          const uint8_t *message, size_t message_len) {
    static const char *const names[] = {"off", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"};
    (void)user_data;
    fprintf(stderr, "[%s %.*s] %.*s\n", level <= 5 ? names[level] : "?", (int)target_len, (const char *)target,
            (int)message_len, (const char *)message);
}

/* Service "app.greeting": modules call it through their host table; it answers with bytes. */
static int32_t greeting_service(void *user_data, const uint8_t *input, size_t input_len, plughost_output *output) {
    const char *application = user_data;
    plughost_output_write(output, STR("greetings from "));
    plughost_output_write(output, STR(application));
    plughost_output_write(output, STR(" to a module calling "));
    plughost_output_write(output, input, input_len);
    return PLUGHOST_OK; /* on failure: plughost_output_set_error(output, ...) and return non-zero */
}

/* Run a module command and print its output; the output buffer is freed here. */
static int execute(const plughost_host *host, plughost_module_id module, const char *command, const char *input) {
    plughost_buffer output = 0;
    int32_t status = plughost_module_execute(host, module, STR(command), STR(input), &output);
    if (status != PLUGHOST_OK) {
        return failed(command, status);
    }
    const uint8_t *data = NULL;
    size_t len = 0;
    plughost_buffer_data(output, &data, &len); /* valid until plughost_buffer_free */
    printf("%s(%s) -> %.*s\n", command, input, (int)len, (const char *)data);
    plughost_buffer_free(output);
    return 0;
}

/* Copy `in` into `out` as the inside of a JSON string (paths may hold '\' or '"'). */
static void json_escape(char *out, size_t cap, const char *in) {
    size_t n = 0;
    for (; *in != '\0' && n + 2 < cap; in++) {
        if (*in == '"' || *in == '\\') {
            out[n++] = '\\';
        }
        out[n++] = *in;
    }
    out[n] = '\0';
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s <trusted folder> <greeter module> <greeter v2 module>\n", argv[0]);
        return 2;
    }
    if (plughost_abi_version() != PLUGHOST_ABI_VERSION) {
        fprintf(stderr, "libplughost %s does not match this header's ABI\n", plughost_version());
        return 1;
    }

    /* 1. A host from a JSON configuration: modules load only from inside the trusted folder. */
    char root[2048];
    char config[4096];
    json_escape(root, sizeof root, argv[1]);
    snprintf(config, sizeof config,
             "{\"PlugHost\": {\"Modules\": {\"TrustedRoots\": [\"%s\"], \"UnloadTimeoutMs\": 2000},"
             " \"Logging\": {\"Level\": \"info\"}}}",
             root);
    plughost_host *host = NULL;
    int32_t status = plughost_host_new(STR(config), &host);
    if (status != PLUGHOST_OK) {
        return failed("plughost_host_new", status); /* INVALID_CONFIG lists every problem */
    }

    int rc = 1;
    plughost_module_id greeter = 0;
    static char application[] = "the C host";
    /* 2. Logs to stderr (no user data, nothing to destroy), and a service for modules. */
    status = plughost_host_set_log_callback(host, log_to_stderr, NULL, NULL);
    if (status != PLUGHOST_OK) {
        failed("plughost_host_set_log_callback", status);
        goto done;
    }
    status = plughost_service_register(host, STR("app.greeting"), 0, greeting_service, application, NULL);
    if (status != PLUGHOST_OK) {
        failed("plughost_service_register", status);
        goto done;
    }

    /* 3. Load the module (from a shadow copy, so the file can be rebuilt while it runs) and call it. */
    status = plughost_module_load(host, STR(argv[2]), &greeter);
    if (status != PLUGHOST_OK) {
        failed("plughost_module_load", status);
        goto done;
    }
    if (execute(host, greeter, "greet", "World") != 0 || execute(host, greeter, "service", "app.greeting") != 0) {
        goto done;
    }

    /* 4. Swap in version 2 from another file; the module hands its state to the new version and
          callers on other threads would simply carry on. */
    uint64_t generation = 0;
    status = plughost_module_reload(host, greeter, STR(argv[3]), &generation);
    if (status != PLUGHOST_OK) {
        failed("plughost_module_reload", status); /* the old version keeps serving */
        goto done;
    }
    printf("reloaded: generation %llu\n", (unsigned long long)generation);
    if (execute(host, greeter, "greet", "World") != 0 || execute(host, greeter, "count", "") != 0) {
        goto done;
    }

    /* 5. Health as JSON. */
    plughost_buffer health = 0;
    status = plughost_host_health(host, &health);
    if (status != PLUGHOST_OK) {
        failed("plughost_host_health", status);
        goto done;
    }
    const uint8_t *json = NULL;
    size_t json_len = 0;
    plughost_buffer_data(health, &json, &json_len);
    printf("%.*s\n", (int)json_len, (const char *)json);
    plughost_buffer_free(health);

    status = plughost_module_unload(host, greeter);
    if (status != PLUGHOST_OK) {
        failed("plughost_module_unload", status);
        goto done;
    }
    rc = 0;

done:
    /* 6. Free the host: modules still loaded are unloaded, services and callbacks released. */
    plughost_host_free(host);
    return rc;
}
