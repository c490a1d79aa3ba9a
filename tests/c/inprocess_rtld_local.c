/* A non-Python host loading a plughost built with the in-process mode the way most do, with
 * RTLD_LOCAL, then importing C extension modules from an in-process script: they only import
 * because plughost promotes its libpython to RTLD_GLOBAL before starting CPython.
 * Usage: inprocess_rtld_local <path of libplughost.so>; prints the run's JSON answer, exits 0
 * when the run succeeded. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct plughost_host plughost_host;
typedef uint64_t plughost_buffer;
typedef int32_t (*host_new_fn)(const uint8_t *, size_t, plughost_host **);
typedef int32_t (*python_run_fn)(plughost_host *, const uint8_t *, size_t, plughost_buffer *);
typedef int32_t (*buffer_data_fn)(plughost_buffer, const uint8_t **, size_t *);
typedef size_t (*last_error_fn)(uint8_t *, size_t);

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s <libplughost.so>\n", argv[0]);
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    host_new_fn host_new = (host_new_fn)dlsym(lib, "plughost_host_new");
    python_run_fn python_run = (python_run_fn)dlsym(lib, "plughost_python_run");
    buffer_data_fn buffer_data = (buffer_data_fn)dlsym(lib, "plughost_buffer_data");
    last_error_fn last_error = (last_error_fn)dlsym(lib, "plughost_last_error_message");
    if (!host_new || !python_run || !buffer_data || !last_error) {
        fprintf(stderr, "missing symbols\n");
        return 2;
    }
    const char *config = "{\"PlugHost\": {\"Python\": {\"Mode\": \"in-process\", \"Workers\": 1}}}";
    plughost_host *host = NULL;
    char message[4096] = {0};
    if (host_new((const uint8_t *)config, strlen(config), &host) != 0) {
        last_error((uint8_t *)message, sizeof message - 1);
        fprintf(stderr, "host: %s\n", message);
        return 2;
    }
    const char *request =
        "{\"code\": \"import ctypes, decimal, _json\\n[ctypes.sizeof(ctypes.c_int16), str(decimal.Decimal('0.5') * 3)]\"}";
    plughost_buffer answer = 0;
    int32_t status = python_run(host, (const uint8_t *)request, strlen(request), &answer);
    if (answer != 0) {
        const uint8_t *data = NULL;
        size_t len = 0;
        buffer_data(answer, &data, &len);
        fwrite(data, 1, len, stdout);
        putchar('\n');
    } else {
        last_error((uint8_t *)message, sizeof message - 1);
        printf("status %d: %s\n", status, message);
    }
    /* The interpreter is never finalised: leave without unloading. */
    return status == 0 ? 0 : 1;
}
