/*
 * plughost work-module ABI, version 1: the header for writing a work module in C or C++.
 *
 * A module is a shared library exporting one function:
 *
 *     PLUGHOST_MODULE_EXPORT const plughost_module_v1 *plughost_module_entry_v1(void);
 *
 * returning a pointer to a static table. The host checks abi_version and struct_size, then calls
 * init once, execute from many threads at once (the module must be thread-safe), and on unload or
 * reload: save_state (optional) and shutdown when no call is in flight.
 *
 * Memory: a module never frees what the host allocated, nor the reverse. Results go through
 * host->output_write; bytes the host hands back arrive through a sink callback the module passes.
 * Strings are UTF-8 pointer + length, except the table's static name and version (NUL-terminated).
 *
 * Kept in step with src/ffi/module_abi.rs by a test that builds a C module against this header.
 */
#ifndef PLUGHOST_MODULE_H
#define PLUGHOST_MODULE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define PLUGHOST_MODULE_EXPORT __declspec(dllexport)
#else
#define PLUGHOST_MODULE_EXPORT __attribute__((visibility("default")))
#endif

/** The module ABI version described here. */
#define PLUGHOST_MODULE_ABI_VERSION 1u

/** Return codes of init, execute, save_state and restore_state. */
#define PLUGHOST_MODULE_OK 0
/** execute: the command is not known to the module. */
#define PLUGHOST_MODULE_UNKNOWN_COMMAND 1
/** Failure; set a message with host->output_set_error first. */
#define PLUGHOST_MODULE_ERROR 2
/** Used by SDKs that catch a panic or exception at the boundary. */
#define PLUGHOST_MODULE_PANICKED 3

/* Log levels for host->log (the same numbers as in plughost.h). */
#ifndef PLUGHOST_LOG_ERROR
#define PLUGHOST_LOG_ERROR 1
#define PLUGHOST_LOG_WARN 2
#define PLUGHOST_LOG_INFO 3
#define PLUGHOST_LOG_DEBUG 4
#define PLUGHOST_LOG_TRACE 5
#endif

/** Opaque output object owned by the host, valid only during the call it is passed to. */
typedef struct plughost_module_output plughost_module_output;

/** A sink the module passes to receive bytes from the host; called before the host function returns. */
typedef void (*plughost_byte_sink)(void *sink_user, const uint8_t *data, size_t len);

/**
 * Host services, passed to init. Valid until shutdown returns; every function may be called from
 * any thread. Host functions return 0 or a PLUGHOST_ERR_* status of plughost.h (for example
 * PLUGHOST_ERR_KEY_NOT_FOUND = 300, PLUGHOST_ERR_SERVICE_NOT_FOUND = 200).
 */
typedef struct plughost_host_api_v1 {
    uint32_t abi_version;  /* PLUGHOST_MODULE_ABI_VERSION */
    uint32_t struct_size;  /* sizeof as the host built it; later versions only append fields */
    void *ctx;             /* pass as the first argument of every function below */
    void (*log)(void *ctx, uint32_t level, const uint8_t *msg, size_t msg_len);
    int32_t (*storage_get)(void *ctx, const uint8_t *key, size_t key_len, plughost_byte_sink sink, void *sink_user);
    int32_t (*storage_set)(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len);
    /* On failure the sink receives the error message. */
    int32_t (*call_service)(void *ctx, const uint8_t *name, size_t name_len, const uint8_t *input, size_t input_len,
                            plughost_byte_sink sink, void *sink_user);
    int32_t (*publish_event)(void *ctx, const uint8_t *topic, size_t topic_len, const uint8_t *payload, size_t payload_len);
    void (*output_write)(plughost_module_output *out, const uint8_t *data, size_t len);
    void (*output_set_error)(plughost_module_output *out, const uint8_t *msg, size_t len);
} plughost_host_api_v1;

/** The table returned by plughost_module_entry_v1. */
typedef struct plughost_module_v1 {
    uint32_t abi_version;  /* PLUGHOST_MODULE_ABI_VERSION */
    uint32_t struct_size;  /* sizeof(plughost_module_v1) */
    const char *name;      /* static, NUL-terminated UTF-8, 1..256 bytes */
    const char *version;   /* static, NUL-terminated UTF-8, 1..256 bytes */
    /* Required. Create the instance; on failure set a message on err and return PLUGHOST_MODULE_ERROR. */
    int32_t (*init)(const plughost_host_api_v1 *host, void **instance_out, plughost_module_output *err);
    /* Required. Run a command; called concurrently from many threads, on the caller's thread. */
    int32_t (*execute)(void *instance, const uint8_t *command, size_t command_len, const uint8_t *input,
                       size_t input_len, plughost_module_output *out);
    /* Required. Release the instance; no call is in flight. */
    void (*shutdown)(void *instance);
    /* Optional (NULL): write the state for the next generation to out; no call is in flight. */
    int32_t (*save_state)(void *instance, plughost_module_output *out);
    /* Optional (NULL): take over state saved by generation from_version, before serving any call. */
    int32_t (*restore_state)(void *instance, const uint8_t *state, size_t state_len, const uint8_t *from_version,
                             size_t from_version_len, plughost_module_output *err);
} plughost_module_v1;

/** The entry symbol's type. */
typedef const plughost_module_v1 *(*plughost_module_entry_v1_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* PLUGHOST_MODULE_H */
