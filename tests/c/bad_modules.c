/*
 * Deliberately broken work modules for the loader's error paths, one per macro:
 *   NO_ENTRY       a library without plughost_module_entry_v1
 *   ABI_MISMATCH   an entry whose table claims ABI version 99
 *   SHORT_TABLE    a v1 table whose struct_size is too small
 *   NULL_ENTRY     an entry returning NULL
 *   INIT_FAILS     init returns an error with a message
 *   MISSING_EXECUTE  a table without execute
 *   RESTORE_FAILS  hands state over, but refuses to take it: a reload onto itself must roll back
 */
#include "plughost_module.h"

#include <string.h>

#if defined(NO_ENTRY)
PLUGHOST_MODULE_EXPORT int not_a_module(void) { return 42; }
#else

#if defined(RESTORE_FAILS)
static const plughost_host_api_v1 *HOST;
#endif

static int32_t init_ok(const plughost_host_api_v1 *host, void **instance_out, plughost_module_output *err) {
#if defined(INIT_FAILS)
    static const char msg[] = "cannot reach the licence server";
    (void)instance_out;
    host->output_set_error(err, (const uint8_t *)msg, sizeof msg - 1);
    return PLUGHOST_MODULE_ERROR;
#else
#if defined(RESTORE_FAILS)
    HOST = host;
#endif
    (void)host;
    (void)err;
    *instance_out = (void *)1;
    return PLUGHOST_MODULE_OK;
#endif
}

__attribute__((unused)) static int32_t execute_nothing(void *instance, const uint8_t *command, size_t command_len, const uint8_t *input,
                               size_t input_len, plughost_module_output *out) {
    (void)instance, (void)command, (void)command_len, (void)input, (void)input_len, (void)out;
    return PLUGHOST_MODULE_OK;
}

static void shutdown_nothing(void *instance) { (void)instance; }

#if defined(RESTORE_FAILS)
static int32_t save_something(void *instance, plughost_module_output *out) {
    (void)instance;
    (void)out;
    return PLUGHOST_MODULE_OK;
}

static int32_t refuse_state(void *instance, const uint8_t *state, size_t state_len, const uint8_t *from_version,
                            size_t from_version_len, plughost_module_output *err) {
    static const char msg[] = "state format changed";
    (void)instance, (void)state, (void)state_len, (void)from_version, (void)from_version_len;
    HOST->output_set_error(err, (const uint8_t *)msg, sizeof msg - 1);
    return PLUGHOST_MODULE_ERROR;
}
#endif

static const plughost_module_v1 TABLE = {
#if defined(ABI_MISMATCH)
    99u,
#else
    PLUGHOST_MODULE_ABI_VERSION,
#endif
#if defined(SHORT_TABLE)
    8u,
#else
    sizeof(plughost_module_v1),
#endif
    "bad",
    "0.0.1",
    init_ok,
#if defined(MISSING_EXECUTE)
    NULL,
#else
    execute_nothing,
#endif
    shutdown_nothing,
#if defined(RESTORE_FAILS)
    save_something,
    refuse_state,
#else
    NULL,
    NULL,
#endif
};

PLUGHOST_MODULE_EXPORT const plughost_module_v1 *plughost_module_entry_v1(void) {
#if defined(NULL_ENTRY)
    (void)&TABLE;
    return NULL;
#else
    return &TABLE;
#endif
}
#endif
