/*
 * Prints the layout of the module ABI tables as a C compiler sees include/plughost_module.h, one
 * line per struct and per field:
 *
 *   <struct> size <bytes> align <bytes>
 *   <struct>.<field> offset <bytes> size <bytes>
 *
 * tests/c_api.rs compares every line with the Rust definitions in src/ffi/module_abi.rs.
 */
#include "plughost_module.h"

#include <stdalign.h>
#include <stdio.h>

#define STRUCT(type) printf("%s size %zu align %zu\n", #type, sizeof(type), alignof(type))
#define FIELD(type, field) \
    printf("%s.%s offset %zu size %zu\n", #type, #field, offsetof(type, field), sizeof(((type *)0)->field))

int main(void) {
    STRUCT(plughost_module_v1);
    FIELD(plughost_module_v1, abi_version);
    FIELD(plughost_module_v1, struct_size);
    FIELD(plughost_module_v1, name);
    FIELD(plughost_module_v1, version);
    FIELD(plughost_module_v1, init);
    FIELD(plughost_module_v1, execute);
    FIELD(plughost_module_v1, shutdown);
    FIELD(plughost_module_v1, save_state);
    FIELD(plughost_module_v1, restore_state);

    STRUCT(plughost_host_api_v1);
    FIELD(plughost_host_api_v1, abi_version);
    FIELD(plughost_host_api_v1, struct_size);
    FIELD(plughost_host_api_v1, ctx);
    FIELD(plughost_host_api_v1, log);
    FIELD(plughost_host_api_v1, storage_get);
    FIELD(plughost_host_api_v1, storage_set);
    FIELD(plughost_host_api_v1, call_service);
    FIELD(plughost_host_api_v1, publish_event);
    FIELD(plughost_host_api_v1, output_write);
    FIELD(plughost_host_api_v1, output_set_error);
    return 0;
}
