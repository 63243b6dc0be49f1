/* C test of the dart ABI: builds real images from a synthetic fixture.
 * Compiled with -Wall -Wextra -Werror and run under valgrind by scripts/test,
 * which first makes the fixture with the CLI and passes its directory:
 *   dart fixture FIXTURE --base-bytes 1048576 --payload-bytes 16384 --no-grub --installed-disk
 *   test_dart FIXTURE
 * Outputs go to a directory of the test's own, removed at the end. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdatomic.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "dart.h"

static int failures = 0;
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n",      \
                    __FILE__, __LINE__, #cond, dart_last_error_message());     \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int progress_calls = 0;
static bool count_progress(void *user, const char *phase, const char *item,
                           uint64_t done, uint64_t total) {
    (void)phase; (void)item; (void)done; (void)total;
    int *calls = user;
    (*calls)++;
    return true;
}

static bool cancel_at_once(void *user, const char *phase, const char *item,
                           uint64_t done, uint64_t total) {
    (void)user; (void)phase; (void)item; (void)done; (void)total;
    return false;
}

static void write_file(const char *path, const unsigned char *bytes, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(bytes, 1, len, f) == len);
        fclose(f);
    }
}

/* Reads `file` from 127.0.0.1:`port` with a minimal TFTP client (RFC 1350:
 * octet mode, 512-byte blocks). Returns the number of bytes read into `buf`,
 * -1 on a timeout or a malformed reply, or -(1000 + code) when the server
 * answered ERROR `code` (its message is copied to `err`). */
/* An HTTP/1.1 GET of `path` from 127.0.0.1:port, the connection closed
 * after it: the whole response (head and body) in `buf`, its length
 * returned, -1 on a socket error. */
static long http_get(uint16_t port, const char *path, char *buf, size_t cap) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return -1;
    struct timeval tv = {20, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in to = {0};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&to, sizeof to) != 0) { close(s); return -1; }
    char request[512];
    int n = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: dart\r\nConnection: close\r\n\r\n", path);
    if (send(s, request, (size_t)n, 0) != n) { close(s); return -1; }
    size_t got = 0;
    for (;;) {
        ssize_t r = recv(s, buf + got, cap - 1 - got, 0);
        if (r <= 0) break;
        got += (size_t)r;
        if (got == cap - 1) break;
    }
    buf[got] = '\0';
    close(s);
    return (long)got;
}

static long tftp_get(uint16_t port, const char *file, unsigned char *buf, size_t cap,
                     char *err, size_t errcap) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0)
        return -1;
    struct timeval tv = {10, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in server;
    memset(&server, 0, sizeof server);
    server.sin_family = AF_INET;
    server.sin_port = htons(port);
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned char pkt[1024];
    size_t n = 0, flen = strlen(file);
    pkt[n++] = 0;
    pkt[n++] = 1; /* RRQ */
    memcpy(pkt + n, file, flen + 1);
    n += flen + 1;
    memcpy(pkt + n, "octet", 6);
    n += 6;
    long result = -1;
    size_t got = 0;
    unsigned expect = 1;
    if (sendto(s, pkt, n, 0, (struct sockaddr *)&server, sizeof server) < 0)
        goto done;
    for (;;) {
        struct sockaddr_in from;
        socklen_t fromlen = sizeof from;
        ssize_t r = recvfrom(s, pkt, sizeof pkt, 0, (struct sockaddr *)&from, &fromlen);
        if (r < 4)
            break;
        unsigned op = (unsigned)pkt[0] << 8 | pkt[1];
        unsigned block = (unsigned)pkt[2] << 8 | pkt[3];
        if (op == 5) { /* ERROR */
            snprintf(err, errcap, "%.*s", (int)(r - 4), (const char *)pkt + 4);
            result = -(1000 + (long)block);
            break;
        }
        if (op != 3)
            break;
        size_t len = (size_t)r - 4;
        unsigned char ack[4] = {0, 4, pkt[2], pkt[3]};
        if (block == ((expect - 1) & 0xffff)) { /* a resent block: ACK it again */
            sendto(s, ack, sizeof ack, 0, (struct sockaddr *)&from, fromlen);
            continue;
        }
        if (block != (expect & 0xffff) || got + len > cap)
            break;
        memcpy(buf + got, pkt + 4, len);
        got += len;
        expect++;
        sendto(s, ack, sizeof ack, 0, (struct sockaddr *)&from, fromlen);
        if (len < 512) {
            result = (long)got;
            break;
        }
    }
done:
    close(s);
    return result;
}

/* Boot server events, counted from the server's threads. */
static atomic_int events_seen, finished_seen, denied_seen;
static void on_event(void *user, const char *event_json) {
    atomic_int *count = user;
    atomic_fetch_add(count, 1);
    if (strstr(event_json, "\"kind\":\"tftp-finished\"") != NULL)
        atomic_fetch_add(&finished_seen, 1);
    if (strstr(event_json, "\"kind\":\"denied\"") != NULL &&
        strstr(event_json, "\"rule\":\"default\"") != NULL)
        atomic_fetch_add(&denied_seen, 1);
}

/* Waits up to 10 s for `counter` to reach `n`. */
static int wait_for(atomic_int *counter, int n) {
    for (int i = 0; i < 1000 && atomic_load(counter) < n; i++)
        usleep(10000);
    return atomic_load(counter) >= n;
}

/* The network boot server: stage a tiny media set twice, read the catalog,
 * serve it over TFTP under an access policy. */
static void test_net(const char *dir) {
    char media[512], root[512], path[600];
    snprintf(media, sizeof media, "%s/net-media", dir);
    snprintf(root, sizeof root, "%s/net-root", dir);
    const char *dirs[] = {"", "/efi", "/efi/boot", "/sources"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s%s", media, dirs[i]);
        CHECK(mkdir(path, 0755) == 0);
    }
    CHECK(mkdir(root, 0755) == 0);
    unsigned char loader[1500]; /* three TFTP blocks */
    for (size_t i = 0; i < sizeof loader; i++)
        loader[i] = (unsigned char)(i * 7 + 3);
    snprintf(path, sizeof path, "%s/efi/boot/bootx64.efi", media);
    write_file(path, loader, sizeof loader);
    snprintf(path, sizeof path, "%s/sources/boot.wim", media);
    write_file(path, (const unsigned char *)"not really a wim", 16);

    /* Stage: a recovery image (twice: versions 1 and 2) and an imaging one. */
    progress_calls = 0;
    char *entry = NULL;
    CHECK(dart_stage(media, NULL, root, "{\"name\": \"rescue\"}", count_progress, &progress_calls, &entry) == DART_OK);
    CHECK(entry != NULL && strstr(entry, "\"version\": 1") != NULL);
    CHECK(entry != NULL && strstr(entry, "\"images/rescue/1/efi/boot/bootx64.efi\"") != NULL);
    CHECK(progress_calls > 0);
    dart_string_free(entry);
    entry = NULL;
    CHECK(dart_stage(media, NULL, root, "{\"name\": \"rescue\", \"arch\": \"x64\", \"keep\": 3}", NULL, NULL, &entry) == DART_OK);
    CHECK(entry != NULL && strstr(entry, "\"version\": 2") != NULL);
    dart_string_free(entry);
    CHECK(dart_stage(media, NULL, root, "{\"name\": \"win-imaging\", \"role\": \"imaging\"}", NULL, NULL, NULL) == DART_OK);
    CHECK(dart_stage(media, NULL, root, "{\"name\": \"rescue\"}", cancel_at_once, NULL, NULL) == DART_ERR_CANCELLED);
    CHECK(dart_stage(media, NULL, root, "{\"name\": \"../x\"}", NULL, NULL, NULL) == DART_ERR_INVALID_INPUT);
    CHECK(strstr(dart_last_error_message(), "image name") != NULL);
    CHECK(dart_stage(media, NULL, root, "{\"name\": \"x\", \"colour\": 1}", NULL, NULL, NULL) == DART_ERR_INVALID_INPUT);
    CHECK(strstr(dart_last_error_message(), "colour") != NULL);
    CHECK(dart_stage(media, NULL, root, NULL, NULL, NULL, NULL) == DART_ERR_NULL_ARGUMENT);
    char *catalog = NULL;
    CHECK(dart_catalog_json(root, &catalog) == DART_OK);
    CHECK(catalog != NULL && strstr(catalog, "\"images/rescue/2\"") != NULL);
    CHECK(catalog != NULL && strstr(catalog, "\"images/rescue/1\"") != NULL); /* retired */
    CHECK(catalog != NULL && strstr(catalog, "\"imaging\"") != NULL);
    dart_string_free(catalog);

    /* Bad settings name the setting and start nothing. */
    dart_boot_server *server = NULL;
    char settings[1200];
    snprintf(settings, sizeof settings, "{\"root\": \"%s\", \"tftp\": \"nonsense\"}", root);
    CHECK(dart_boot_server_start(settings, NULL, NULL, &server) == DART_ERR_INVALID_INPUT && server == NULL);
    CHECK(strstr(dart_last_error_message(), "tftp") != NULL);
    snprintf(settings, sizeof settings, "{\"root\": \"%s\", \"colour\": \"blue\"}", root);
    CHECK(dart_boot_server_start(settings, NULL, NULL, &server) == DART_ERR_INVALID_INPUT && server == NULL);
    CHECK(strstr(dart_last_error_message(), "colour") != NULL);
    snprintf(settings, sizeof settings,
             "{\"root\": \"%s\", \"policy\": {\"rules\": [{\"name\": \"a\", \"allow\": \"all\"},"
             " {\"name\": \"a\", \"allow\": \"none\"}]}}", root);
    CHECK(dart_boot_server_start(settings, NULL, NULL, &server) == DART_ERR_INVALID_INPUT && server == NULL);
    CHECK(strstr(dart_last_error_message(), "unique") != NULL);
    snprintf(settings, sizeof settings, "{\"root\": \"%s/nowhere\", \"tftp\": \"127.0.0.1:0\"}", root);
    CHECK(dart_boot_server_start(settings, NULL, NULL, &server) == DART_ERR_NOT_FOUND && server == NULL);
    CHECK(dart_boot_server_start(NULL, NULL, NULL, &server) == DART_ERR_NULL_ARGUMENT);

    /* Serve: the recovery image is readable, the imaging one is not. */
    snprintf(settings, sizeof settings, "{\"root\": \"%s\", \"tftp\": \"127.0.0.1:0\", \"http\": \"127.0.0.1:0\"}", root);
    CHECK(dart_boot_server_start(settings, on_event, &events_seen, &server) == DART_OK);
    CHECK(server != NULL);
    uint16_t port = 0;
    CHECK(dart_boot_server_tftp_port(server, &port) == DART_OK && port != 0);
    CHECK(dart_boot_server_tftp_port(NULL, &port) == DART_ERR_NULL_ARGUMENT);
    /* The same files over HTTP, under the same policy. */
    uint16_t http_port = 0;
    CHECK(dart_boot_server_http_port(server, &http_port) == DART_OK && http_port != 0);
    {
        char response[8192];
        long n = http_get(http_port, "/images/rescue/2/efi/boot/bootx64.efi", response, sizeof response);
        CHECK(n > (long)sizeof loader && strncmp(response, "HTTP/1.1 200 OK", 15) == 0);
        CHECK(memcmp(response + n - (long)sizeof loader, loader, sizeof loader) == 0);
        n = http_get(http_port, "/images/win-imaging/1/efi/boot/bootx64.efi", response, sizeof response);
        CHECK(n > 0 && strncmp(response, "HTTP/1.1 403", 12) == 0 && strstr(response, "win-imaging") != NULL);
    }
    char *served = NULL;
    CHECK(dart_boot_server_catalog_json(server, &served) == DART_OK && strstr(served, "win-imaging") != NULL);
    dart_string_free(served);
    unsigned char got[4096];
    char err[600] = "";
    CHECK(tftp_get(port, "images/rescue/2/efi/boot/bootx64.efi", got, sizeof got, err, sizeof err) == (long)sizeof loader);
    CHECK(memcmp(got, loader, sizeof loader) == 0);
    CHECK(wait_for(&finished_seen, 1));
    CHECK(dart_boot_server_active_transfers(server) == 0);
    err[0] = '\0';
    CHECK(tftp_get(port, "images/win-imaging/1/efi/boot/bootx64.efi", got, sizeof got, err, sizeof err) == -1002);
    CHECK(strstr(err, "\"default\"") != NULL && strstr(err, "win-imaging") != NULL);
    CHECK(wait_for(&denied_seen, 2));

    /* A new policy lets this client boot the imaging image too. */
    CHECK(dart_boot_server_set_policy(server, "{\"rules\": [{\"name\": \"bench\", \"ip\": \"127.0.0.1\", \"allow\": \"all\"}]}") == DART_OK);
    CHECK(tftp_get(port, "images/win-imaging/1/efi/boot/bootx64.efi", got, sizeof got, err, sizeof err) == (long)sizeof loader);
    CHECK(dart_boot_server_set_policy(server, "{\"rules\": [{\"name\": \"bench\", \"allow\": \"sometimes\"}]}") == DART_ERR_INVALID_INPUT);
    CHECK(strstr(dart_last_error_message(), "sometimes") != NULL);
    CHECK(dart_boot_server_set_policy(server, NULL) == DART_ERR_NULL_ARGUMENT);
    dart_boot_server_stop(server);
    CHECK(atomic_load(&events_seen) >= 4);
    dart_boot_server_stop(NULL);
    CHECK(dart_boot_server_active_transfers(NULL) == 0);
}

/* BCD stores: create, edit, save, reopen, list; errors name the id; a
 * failed edit leaves the saved file as it was. */
/* The client database: approve, deny, forget, import; refusals change nothing. */
static void test_clients(const char *dir) {
    char root[512];
    snprintf(root, sizeof root, "%s/clients-root", dir);
    CHECK(mkdir(root, 0755) == 0);
    char *json = NULL;
    CHECK(dart_clients_list(root, NULL, &json) == DART_OK && json != NULL && strcmp(json, "[]") == 0);
    dart_string_free(json);
    json = NULL;
    CHECK(dart_clients_approve(root, "52:54:00:AA:BB:01",
                               "{\"name\": \"bench\", \"allow\": [\"deploy\"], \"boot\": \"deploy\"}",
                               &json) == DART_OK);
    CHECK(json != NULL && strstr(json, "\"approved\"") != NULL && strstr(json, "52:54:00:aa:bb:01") != NULL);
    dart_string_free(json);
    json = NULL;
    CHECK(dart_clients_approve(root, "52:54:00:aa:bb:02", "{\"allow\": [\"a\"], \"boot\": \"b\"}", &json) ==
              DART_ERR_INVALID_INPUT && json == NULL);
    CHECK(strstr(dart_last_error_message(), "\"b\"") != NULL);
    CHECK(dart_clients_approve(root, "nonsense", NULL, NULL) == DART_ERR_INVALID_INPUT);
    size_t count = 0;
    CHECK(dart_clients_import(root, "mac,allow\nnot-a-mac,all\n", &count) == DART_ERR_INVALID_INPUT && count == 0);
    CHECK(strstr(dart_last_error_message(), "line 2") != NULL);
    CHECK(dart_clients_import(root, "mac,name\n52:54:00:aa:bb:03,lab\n", &count) == DART_OK && count == 1);
    CHECK(dart_clients_deny(root, "52:54:00:aa:bb:03", NULL) == DART_OK);
    CHECK(dart_clients_list(root, "denied", &json) == DART_OK && json != NULL && strstr(json, "\"lab\"") != NULL);
    dart_string_free(json);
    CHECK(dart_clients_list(root, "sideways", &json) == DART_ERR_INVALID_INPUT);
    CHECK(dart_clients_forget(root, "52:54:00:aa:bb:03") == DART_OK);
    CHECK(dart_clients_forget(root, "52:54:00:aa:bb:03") == DART_ERR_INVALID_INPUT);
    CHECK(strstr(dart_last_error_message(), "no such client") != NULL);
    CHECK(dart_clients_list(NULL, NULL, &json) == DART_ERR_NULL_ARGUMENT);
}

static void test_bcd(const char *dir) {
    char path[600], cmd[1400];
    snprintf(path, sizeof path, "%s/BCD", dir);
    dart_bcd_store *store = NULL;
    CHECK(dart_bcd_store_new("uefi", &store) == DART_OK && store != NULL);
    char *full = NULL, *user = NULL;
    CHECK(dart_bcd_store_add_winpe(store, "DaRT (full)", "\\sources\\full.wim", NULL, NULL, false, &full) == DART_OK);
    CHECK(dart_bcd_store_add_winpe(store, "DaRT (end user)", "\\sources\\user.wim", "\\boot\\user.sdi", "uefi",
                                   false, &user) == DART_OK);
    CHECK(full != NULL && user != NULL && full[0] == '{' && strcmp(full, user) != 0);
    CHECK(dart_bcd_store_add_winpe(store, "X", "\\sources\\x.wim", NULL, NULL, false, NULL) == DART_OK);
    CHECK(dart_bcd_store_set_timeout(store, 15) == DART_OK);
    CHECK(dart_bcd_store_set_default(store, user) == DART_OK);
    const char *order[] = {user, full, "{default}"};
    CHECK(dart_bcd_store_set_display_order(store, order, 3) == DART_ERR_INVALID_INPUT); /* user twice */
    CHECK(dart_bcd_store_set_display_order(store, order, 2) == DART_OK);
    CHECK(dart_bcd_store_save(store, path) == DART_OK && exists(path));
    dart_bcd_store_free(store);

    /* Reopen: both entries, the default, the timeout; libhivex reads it. */
    store = NULL;
    CHECK(dart_bcd_store_open(path, &store) == DART_OK && store != NULL);
    char *json = NULL;
    CHECK(dart_bcd_store_to_json(store, &json) == DART_OK);
    CHECK(json != NULL && strstr(json, "\"DaRT (full)\"") != NULL && strstr(json, "\"DaRT (end user)\"") != NULL);
    CHECK(json != NULL && strstr(json, full) != NULL && strstr(json, "\"{default}\"") != NULL);
    CHECK(json != NULL && strstr(json, "\"timeout\"") != NULL);
    dart_string_free(json);
    char *text = NULL;
    CHECK(dart_bcd_store_to_text(store, &text) == DART_OK);
    CHECK(text != NULL && strstr(text, "Windows Boot Manager") != NULL && strstr(text, "DaRT (end user)") != NULL);
    dart_string_free(text);
    snprintf(cmd, sizeof cmd, "hivexml '%s' 2>&1 | grep -qi '%s'", path, full + 1 /* without the brace */);
    CHECK(system(cmd) == 0);

    /* Remove one; the other stays, and is still the default. */
    CHECK(dart_bcd_store_remove(store, full) == DART_OK);
    json = NULL;
    CHECK(dart_bcd_store_to_json(store, &json) == DART_OK);
    CHECK(json != NULL && strstr(json, "\"DaRT (full)\"") == NULL && strstr(json, "\"DaRT (end user)\"") != NULL);
    dart_string_free(json);

    /* Bad ids name the id, change nothing, and the file stays as saved. */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s.before'", path, path);
    CHECK(system(cmd) == 0);
    dart_result r = dart_bcd_store_remove(store, full); /* removed already */
    CHECK(r == DART_ERR_BOOT_STORE || r == DART_ERR_INVALID_INPUT);
    CHECK(strstr(dart_last_error_message(), full) != NULL);
    CHECK(dart_bcd_store_set_default(store, "not-an-id") == DART_ERR_INVALID_INPUT);
    CHECK(strstr(dart_last_error_message(), "not-an-id") != NULL);
    const char *bad[] = {user, "{0badf00d-0000-4000-8000-000000000001}"};
    r = dart_bcd_store_set_display_order(store, bad, 2);
    CHECK(r == DART_ERR_BOOT_STORE || r == DART_ERR_INVALID_INPUT);
    CHECK(strstr(dart_last_error_message(), "0badf00d-0000-4000-8000-000000000001") != NULL);
    CHECK(dart_bcd_store_set_default(store, "{globalsettings}") == DART_ERR_BOOT_STORE);
    CHECK(dart_bcd_store_set_timeout(store, 1000) == DART_ERR_INVALID_INPUT);
    char *id = NULL;
    CHECK(dart_bcd_store_add_winpe(store, "Y", "sources/y.wim", NULL, NULL, false, &id) == DART_ERR_INVALID_INPUT &&
          id == NULL);
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s.before'", path, path);
    CHECK(system(cmd) == 0);

    /* Bad arguments and files. */
    CHECK(dart_bcd_store_remove(store, NULL) == DART_ERR_NULL_ARGUMENT);
    CHECK(dart_bcd_store_set_display_order(store, NULL, 1) == DART_ERR_NULL_ARGUMENT);
    CHECK(dart_bcd_store_save(NULL, path) == DART_ERR_NULL_ARGUMENT);
    CHECK(dart_bcd_store_to_json(store, NULL) == DART_ERR_NULL_ARGUMENT);
    dart_bcd_store_free(store);
    dart_bcd_store *none = NULL;
    CHECK(dart_bcd_store_new("both", &none) == DART_ERR_INVALID_INPUT && none == NULL);
    snprintf(path, sizeof path, "%s/not-a-store", dir);
    write_file(path, (const unsigned char *)"regf but not really", 19);
    CHECK(dart_bcd_store_open(path, &none) == DART_ERR_BOOT_STORE && none == NULL);
    CHECK(strstr(dart_last_error_message(), "not-a-store") != NULL);
    snprintf(path, sizeof path, "%s/missing-bcd", dir);
    CHECK(dart_bcd_store_open(path, &none) == DART_ERR_NOT_FOUND && none == NULL);
    dart_bcd_store_free(NULL);
    dart_string_free(full);
    dart_string_free(user);
}

/* Whether the two files have the same bytes. */
static int same_file(const char *a, const char *b) {
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

static void copy_file(const char *from, const char *to) {
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cp --sparse=always '%s' '%s'", from, to);
    CHECK(system(cmd) == 0);
}

/* The recovery partition on a managed PC: set up (add, register in the
 * installed boot store, UEFI boot entry with BootNext) in one call, again
 * (no changes), BootNext, unregister; dry runs and refusals write nothing.
 * `installed` is the fixture's stand-in installed system (GPT: ESP with the
 * Windows boot store at 1 MiB, 40 MiB; "Windows" after it). */
static void test_register(const char *fixture, const char *dir, const char *media_dir) {
    char installed[600], pc[600], vars[600], before[600], vars_before[600], fresh_vars[600], path_buf[600];
    char opts[1400];
    snprintf(installed, sizeof installed, "%s/installed-gpt.img", fixture);
    CHECK(exists(installed));
    snprintf(pc, sizeof pc, "%s/pc.img", dir);
    snprintf(before, sizeof before, "%s/pc.before", dir);
    snprintf(vars, sizeof vars, "%s/vars.fd", dir);
    snprintf(vars_before, sizeof vars_before, "%s/vars.before", dir);
    snprintf(fresh_vars, sizeof fresh_vars, "%s/fresh-vars.fd", dir);
    copy_file(installed, pc);
    copy_file("/usr/share/OVMF/OVMF_VARS_4M.fd", vars);
    copy_file(vars, fresh_vars);
    copy_file(pc, before);
    copy_file(vars, vars_before);
    snprintf(opts, sizeof opts,
             "{\"headroom\": 4194304, \"update_if_present\": true, \"register\": {\"placement\": \"tools\"},"
             " \"uefi_entry\": {\"vars_file\": \"%s\", \"boot_order\": \"last\", \"boot_next\": true}}",
             vars);

    /* A dry run plans everything and writes nothing. */
    char *report = NULL;
    CHECK(dart_recovery_set_up(pc, media_dir, NULL, opts, true, NULL, NULL, &report) == DART_OK);
    CHECK(report != NULL && strstr(report, "\"dry_run\": true") != NULL && strstr(report, "Boot0000") != NULL);
    CHECK(report != NULL && strstr(report, "BootNext") != NULL && strstr(report, "toolsdisplayorder") != NULL);
    dart_string_free(report);
    CHECK(same_file(pc, before) && same_file(vars, vars_before));

    /* Set up: partition, registration, Boot0000 + BootOrder + BootNext. */
    report = NULL;
    progress_calls = 0;
    CHECK(dart_recovery_set_up(pc, media_dir, NULL, opts, false, count_progress, &progress_calls, &report) == DART_OK);
    CHECK(report != NULL && strstr(report, "\"dry_run\": false") != NULL && strstr(report, "DaRT Recovery") != NULL);
    CHECK(report != NULL && strstr(report, "\"number\": 0") != NULL && strstr(report, "BootNext") != NULL);
    CHECK(progress_calls > 0);
    dart_string_free(report);
    CHECK(!same_file(pc, before) && !same_file(vars, vars_before));
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "virt-fw-vars --input '%s' --print --verbose 2>/dev/null | grep -q 'DaRT Recovery'", vars);
    CHECK(system(cmd) == 0);

    /* Again: the partition is updated in place, nothing else changes. */
    report = NULL;
    CHECK(dart_recovery_set_up(pc, media_dir, NULL, opts, false, NULL, NULL, &report) == DART_OK);
    CHECK(report != NULL && strstr(report, "\"added\": null") != NULL && strstr(report, "\"changes\": []") != NULL);
    CHECK(report != NULL && strstr(report, "\"action\"") == NULL && strstr(report, "\"change\"") == NULL);
    dart_string_free(report);

    /* BootNext: planned (already set: no changes) and set. */
    report = NULL;
    CHECK(dart_recovery_boot_next(pc, vars, true, &report) == DART_OK);
    CHECK(report != NULL && strstr(report, "\"number\": 0") != NULL);
    dart_string_free(report);
    CHECK(dart_recovery_boot_next(pc, vars, false, NULL) == DART_OK);
    /* Refused: a variable store without the partition's boot option. */
    copy_file(fresh_vars, vars_before);
    report = NULL;
    CHECK(dart_recovery_boot_next(pc, fresh_vars, false, &report) == DART_ERR_DISK && report == NULL);
    CHECK(strstr(dart_last_error_message(), "no boot option") != NULL);
    CHECK(same_file(fresh_vars, vars_before));
    /* Refused: a missing variable file, or one that is not a store. */
    snprintf(path_buf, sizeof path_buf, "%s/missing.fd", dir);
    CHECK(dart_recovery_boot_next(pc, path_buf, false, &report) == DART_ERR_NOT_FOUND && report == NULL);
    CHECK(strstr(dart_last_error_message(), "missing.fd") != NULL);
    snprintf(path_buf, sizeof path_buf, "%s/damaged.fd", dir);
    snprintf(cmd, sizeof cmd, "head -c 540672 /dev/zero | tr '\\0' 'Z' > '%s'", path_buf);
    CHECK(system(cmd) == 0);
    copy_file(path_buf, vars_before);
    CHECK(dart_recovery_boot_next(pc, path_buf, false, &report) == DART_ERR_UEFI_VARIABLES && report == NULL);
    CHECK(strstr(dart_last_error_message(), "damaged.fd") != NULL);
    CHECK(same_file(path_buf, vars_before));

    /* Unregister: a dry run writes nothing; then the entries go. */
    copy_file(pc, before);
    copy_file(vars, vars_before);
    report = NULL;
    CHECK(dart_recovery_unregister(pc, false, vars, false, true, &report) == DART_OK);
    CHECK(report != NULL && strstr(report, "\"dry_run\": true") != NULL && strstr(report, "Boot0000") != NULL);
    dart_string_free(report);
    CHECK(same_file(pc, before) && same_file(vars, vars_before));
    CHECK(dart_recovery_unregister(pc, false, vars, true, false, NULL) == DART_ERR_INVALID_INPUT);
    CHECK(same_file(pc, before) && same_file(vars, vars_before));
    report = NULL;
    CHECK(dart_recovery_unregister(pc, false, vars, false, false, &report) == DART_OK);
    CHECK(report != NULL && strstr(report, "\"dry_run\": false") != NULL && strstr(report, "Boot0000") != NULL);
    dart_string_free(report);
    snprintf(cmd, sizeof cmd, "virt-fw-vars --input '%s' --print --verbose 2>/dev/null | grep -q 'DaRT Recovery'", vars);
    CHECK(system(cmd) != 0);
    CHECK(dart_recovery_boot_next(pc, vars, true, NULL) == DART_ERR_DISK);
    /* Register alone (the partition stayed), dry run and real. */
    report = NULL;
    CHECK(dart_recovery_register(pc, NULL, "winre", false, true, &report) == DART_OK);
    CHECK(report != NULL && strstr(report, "\"written\": false") != NULL && strstr(report, "winre") != NULL);
    dart_string_free(report);
    CHECK(dart_recovery_register(pc, "DaRT", "menu", false, false, NULL) == DART_OK);
    CHECK(dart_recovery_register(pc, NULL, "sideways", false, false, NULL) == DART_ERR_INVALID_INPUT);
    CHECK(strstr(dart_last_error_message(), "sideways") != NULL);

    /* Refused before anything is written: a BitLocker volume on "Windows"
     * (41 MiB in), bad options, a disk without a boot store. */
    copy_file(installed, pc);
    snprintf(cmd, sizeof cmd, "printf -- '-FVE-FS-' | dd of='%s' bs=1 seek=%lu conv=notrunc status=none", pc,
             (41ul << 20) + 3);
    CHECK(system(cmd) == 0);
    copy_file(pc, before);
    copy_file(vars, vars_before);
    report = NULL;
    CHECK(dart_recovery_set_up(pc, media_dir, NULL, opts, false, NULL, NULL, &report) == DART_ERR_DISK && report == NULL);
    CHECK(strstr(dart_last_error_message(), "BitLocker") != NULL && strstr(dart_last_error_message(), "pc.img") != NULL);
    CHECK(same_file(pc, before) && same_file(vars, vars_before));
    CHECK(dart_recovery_unregister(pc, false, NULL, false, false, NULL) == DART_ERR_DISK);
    CHECK(strstr(dart_last_error_message(), "BitLocker") != NULL);
    CHECK(dart_recovery_set_up(pc, media_dir, NULL, "{\"register\": {\"placement\": \"top\"}}", false, NULL, NULL,
                               NULL) == DART_ERR_INVALID_INPUT);
    CHECK(strstr(dart_last_error_message(), "top") != NULL);
    CHECK(dart_recovery_set_up(pc, media_dir, NULL, "{\"uefi_entry\": {\"boot_next\": true}}", false, NULL, NULL,
                               NULL) == DART_ERR_INVALID_INPUT);
    CHECK(strstr(dart_last_error_message(), "vars_file") != NULL);
    CHECK(dart_recovery_set_up(pc, media_dir, NULL, "{\"regsiter\": {}}", false, NULL, NULL, NULL) ==
          DART_ERR_INVALID_INPUT);
    CHECK(strstr(dart_last_error_message(), "regsiter") != NULL);
    CHECK(same_file(pc, before));
    snprintf(path_buf, sizeof path_buf, "%s/no-store.img", dir);
    snprintf(cmd, sizeof cmd, "truncate -s 96M '%s' && printf 'label: gpt\\nstart=2048, size=32768\\n' | sfdisk -q '%s'",
             path_buf, path_buf);
    CHECK(system(cmd) == 0);
    copy_file(path_buf, before);
    CHECK(dart_recovery_set_up(path_buf, media_dir, NULL, "{\"register\": {}}", false, NULL, NULL, &report) ==
              DART_ERR_DISK &&
          report == NULL);
    CHECK(strstr(dart_last_error_message(), "no-store.img") != NULL);
    CHECK(same_file(path_buf, before));
    CHECK(dart_recovery_set_up(NULL, media_dir, NULL, NULL, false, NULL, NULL, NULL) == DART_ERR_NULL_ARGUMENT);
    CHECK(dart_recovery_boot_next(pc, NULL, true, NULL) != DART_OK); /* no efivarfs here, or no boot option */
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FIXTURE (a directory made by `dart fixture FIXTURE`)\n", argv[0]);
        return 2;
    }
    const char *fixture = argv[1];
    char dir[] = "/tmp/dart-c-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[512], base[512], payloads[512], out[512];

    printf("dart %s\n", dart_version());
    snprintf(base, sizeof base, "%s/media/sources/boot.wim", fixture);
    snprintf(payloads, sizeof payloads, "%s/payloads", fixture);
    CHECK(exists(base) && exists(payloads));

    /* Inspect the base. */
    dart_image *image = NULL;
    CHECK(dart_image_open(base, &image) == DART_OK);
    CHECK(dart_image_count(image) == 2);
    CHECK(dart_image_boot_index(image) == 2);
    bool winpe = false;
    CHECK(dart_image_is_winpe(image, 2, &winpe) == DART_OK && winpe);
    char *name = NULL;
    CHECK(dart_image_name(image, 2, &name) == DART_OK);
    CHECK(name != NULL && strstr(name, "Setup") != NULL);
    dart_string_free(name);
    CHECK(dart_image_name(image, 9, &name) == DART_ERR_IMAGE);
    char *json = NULL;
    CHECK(dart_image_info_json(image, &json) == DART_OK && strstr(json, "WindowsPE") != NULL);
    dart_string_free(json);
    dart_image_free(image);

    /* Tools. */
    uint32_t tools = 0;
    CHECK(dart_tools_parse("explorer, Locksmith", &tools) == DART_OK);
    CHECK(tools == (DART_TOOL_EXPLORER | DART_TOOL_LOCKSMITH));
    CHECK(dart_tools_parse("explorer,telnet", &tools) == DART_ERR_TOOL);
    CHECK(strstr(dart_last_error_message(), "telnet") != NULL);
    char *names = NULL;
    CHECK(dart_tools_format(DART_TOOL_EXPLORER | DART_TOOL_LOCKSMITH, &names) == DART_OK);
    CHECK(names != NULL && strcmp(names, "explorer,locksmith") == 0);
    dart_string_free(names);
    uint32_t end_user = 0;
    CHECK(dart_support_level("end-user", &end_user) == DART_OK);
    CHECK((end_user & DART_TOOL_DISK_WIPE) == 0 && (end_user & DART_TOOL_REMOTE_CONNECTION) != 0);

    /* Build one image. */
    dart_recipe *recipe = NULL;
    CHECK(dart_recipe_new(base, payloads, &recipe) == DART_OK);
    CHECK(dart_recipe_set_name(recipe, "DaRT10", "built from C") == DART_OK);
    CHECK(dart_recipe_set_remote(recipe, 3388, "Help is on the way") == DART_OK);
    CHECK(dart_recipe_set_scratch_space(recipe, 100) == DART_OK); /* checked at build time */
    snprintf(out, sizeof out, "%s/c.wim", dir);
    CHECK(dart_build_image(recipe, tools, out, NULL) == DART_ERR_INVALID_INPUT);
    CHECK(strstr(dart_last_error_message(), "scratch space") != NULL);
    CHECK(!exists(out));
    CHECK(dart_recipe_set_scratch_space(recipe, 128) == DART_OK);
    char *report = NULL;
    CHECK(dart_build_image(recipe, tools | DART_TOOL_REMOTE_CONNECTION, out, &report) == DART_OK);
    CHECK(report != NULL && strstr(report, "remote-connection") != NULL);
    dart_string_free(report);
    CHECK(dart_image_open(out, &image) == DART_OK);
    CHECK(dart_image_count(image) == 1 && dart_image_boot_index(image) == 1);
    dart_image_free(image);

    /* Three variants with progress. */
    uint32_t level_tools[3];
    CHECK(dart_support_level("remote", &level_tools[0]) == DART_OK);
    CHECK(dart_support_level("end-user", &level_tools[1]) == DART_OK);
    CHECK(dart_support_level("full", &level_tools[2]) == DART_OK);
    char o0[512], o1[512], o2[512];
    snprintf(o0, sizeof o0, "%s/remote.wim", dir);
    snprintf(o1, sizeof o1, "%s/end-user.wim", dir);
    snprintf(o2, sizeof o2, "%s/full.wim", dir);
    const char *outputs[3] = {o0, o1, o2};
    CHECK(dart_build_variants(recipe, level_tools, outputs, 3, count_progress, &progress_calls, NULL) == DART_OK);
    CHECK(progress_calls > 0);
    CHECK(exists(o0) && exists(o1) && exists(o2));

    /* Cancellation leaves nothing. */
    snprintf(path, sizeof path, "%s/cancelled.wim", dir);
    const char *cancelled[1] = {path};
    CHECK(dart_build_variants(recipe, &level_tools[2], cancelled, 1, cancel_at_once, NULL, NULL) == DART_ERR_CANCELLED);
    CHECK(!exists(path));
    dart_recipe_free(recipe);

    /* Bad inputs. */
    snprintf(path, sizeof path, "%s/missing.wim", dir);
    image = NULL;
    CHECK(dart_image_open(path, &image) == DART_ERR_NOT_FOUND);
    CHECK(image == NULL);
    CHECK(strstr(dart_last_error_message(), "missing.wim") != NULL);
    CHECK(dart_image_open(payloads, &image) == DART_ERR_IMAGE);
    CHECK(dart_image_open(NULL, &image) == DART_ERR_NULL_ARGUMENT);
    CHECK(dart_tools_parse("explorer", NULL) == DART_ERR_NULL_ARGUMENT);
    dart_image_free(NULL);
    dart_recipe_free(NULL);
    dart_media_free(NULL);
    dart_string_free(NULL);

    /* Media and planner. */
    dart_media *media = NULL;
    snprintf(path, sizeof path, "%s/media", fixture);
    CHECK(dart_media_open(path, &media) == DART_OK);
    CHECK(dart_media_validate(media, "x64", "both") == DART_OK);
    CHECK(dart_media_validate(media, "x86", "uefi") == DART_ERR_MEDIA);
    CHECK(strstr(dart_last_error_message(), "bootia32.efi") != NULL);
    CHECK(dart_media_validate(media, "sparc", "uefi") == DART_ERR_INVALID_INPUT);
    dart_media_free(media);
    char *plan = NULL;
    CHECK(dart_plan_json("{\"active_directory\": true, \"network_boot_server\": true}", &plan) == DART_OK);
    CHECK(plan != NULL && strstr(plan, "\"recommended\"") != NULL);
    dart_string_free(plan);
    CHECK(dart_plan_json("{\"no_such_fact\": true}", &plan) == DART_ERR_INVALID_INPUT);

    char cmd[2200];
    /* USB image and recovery partition. */
    char media_dir[512], usb[512], disk[512];
    snprintf(media_dir, sizeof media_dir, "%s/media", fixture);
    snprintf(usb, sizeof usb, "%s/usb.img", dir);
    snprintf(disk, sizeof disk, "%s/disk.img", dir);
    progress_calls = 0;
    char *usb_report = NULL;
    CHECK(dart_usb_write(media_dir, NULL, usb, 48u << 20, "gpt", "RESCUE", count_progress, &progress_calls, &usb_report) == DART_OK);
    CHECK(usb_report != NULL && strstr(usb_report, "efi-system") != NULL);
    CHECK(progress_calls > 0);
    dart_string_free(usb_report);
    char *layout = NULL;
    CHECK(dart_disk_read_json(usb, &layout) == DART_OK && strstr(layout, "\"gpt\"") != NULL);
    dart_string_free(layout);
    snprintf(path, sizeof path, "%s/tiny.img", dir);
    CHECK(dart_usb_write(media_dir, NULL, path, 1u << 20, NULL, NULL, NULL, NULL, NULL) == DART_ERR_DISK);
    CHECK(strstr(dart_last_error_message(), "tiny.img") != NULL && !exists(path));
    CHECK(dart_usb_write(media_dir, NULL, usb, DART_SIZE_DEFAULT, "apm", NULL, NULL, NULL, NULL) == DART_ERR_INVALID_INPUT);
    CHECK(dart_usb_write(media_dir, NULL, usb, DART_SIZE_DEFAULT, NULL, NULL, cancel_at_once, NULL, NULL) == DART_ERR_CANCELLED);
    /* ISO image: written, checked by xorriso, read back, used as media. */
    char iso[512];
    snprintf(iso, sizeof iso, "%s/dart.iso", dir);
    progress_calls = 0;
    char *iso_report = NULL;
    CHECK(dart_iso_write(media_dir, NULL, iso, "{\"hybrid\": true, \"label\": \"RESCUE\", \"timestamp\": 1700000000}",
                         count_progress, &progress_calls, &iso_report) == DART_OK);
    CHECK(iso_report != NULL && strstr(iso_report, "\"uefi\"") != NULL && strstr(iso_report, "\"bios\"") != NULL);
    CHECK(progress_calls > 0);
    dart_string_free(iso_report);
    snprintf(cmd, sizeof cmd, "xorriso -indev '%s' -report_el_torito plain 2>&1 | grep -q UEFI", iso);
    CHECK(system(cmd) == 0);
    char *listing = NULL;
    CHECK(dart_iso_read_json(iso, &listing) == DART_OK && strstr(listing, "efi/boot/bootx64.efi") != NULL);
    dart_string_free(listing);
    listing = NULL;
    CHECK(dart_iso_read_json(usb, &listing) == DART_ERR_MEDIA && listing == NULL);
    CHECK(strstr(dart_last_error_message(), "usb.img") != NULL);
    snprintf(path, sizeof path, "%s/again.iso", dir);
    CHECK(dart_iso_write(iso, NULL, path, NULL, NULL, NULL, NULL) == DART_OK && exists(path));
    CHECK(dart_iso_write(media_dir, NULL, path, "{\"hybrid\": \"yes\"}", NULL, NULL, NULL) == DART_ERR_INVALID_INPUT);
    CHECK(dart_iso_write(media_dir, NULL, path, "{\"label\": \"0123456789012345678901234567890123\"}", NULL, NULL, NULL) == DART_ERR_INVALID_INPUT);
    CHECK(strstr(dart_last_error_message(), "volume label") != NULL);
    /* A built image in place of the media's boot.wim: a WIM is taken, a
       file that is not one is refused by name and nothing is written. */
    char wim[600], not_wim[600], with_wim[600];
    snprintf(wim, sizeof wim, "%s/sources/boot.wim", media_dir);
    snprintf(not_wim, sizeof not_wim, "%s/bootmgr", media_dir);
    snprintf(with_wim, sizeof with_wim, "%s/with-wim.iso", dir);
    CHECK(dart_iso_write(media_dir, wim, with_wim, NULL, NULL, NULL, NULL) == DART_OK && exists(with_wim));
    CHECK(dart_iso_write(media_dir, not_wim, path, NULL, NULL, NULL, NULL) == DART_ERR_IMAGE);
    CHECK(strstr(dart_last_error_message(), "bootmgr") != NULL);
    /* Flash the ISO onto two new image files in one pass, verify, block maps. */
    char copy_a[512], copy_b[512], bmap[512];
    snprintf(copy_a, sizeof copy_a, "%s/copy-a.img", dir);
    snprintf(copy_b, sizeof copy_b, "%s/copy-b.img", dir);
    snprintf(bmap, sizeof bmap, "%s/dart.bmap", dir);
    const char *copies[] = {copy_a, copy_b};
    char *flash_report = NULL;
    progress_calls = 0;
    CHECK(dart_flash(iso, copies, 2, true, NULL, count_progress, &progress_calls, &flash_report) == DART_OK);
    CHECK(flash_report != NULL && strstr(flash_report, "\"verified\": true") != NULL);
    CHECK(progress_calls > 0);
    dart_string_free(flash_report);
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s' && cmp -s '%s' '%s'", iso, copy_a, iso, copy_b);
    CHECK(system(cmd) == 0);
    CHECK(dart_verify(iso, copy_a, NULL, NULL, NULL, NULL) == DART_OK);
    CHECK(dart_bmap_create(iso, bmap, NULL) == DART_OK && exists(bmap));
    CHECK(dart_verify(iso, copy_b, bmap, NULL, NULL, NULL) == DART_OK);
    snprintf(cmd, sizeof cmd, "printf 'X' | dd of='%s' bs=1 seek=40000 conv=notrunc status=none", copy_b);
    CHECK(system(cmd) == 0);
    CHECK(dart_verify(iso, copy_b, NULL, NULL, NULL, NULL) == DART_ERR_DISK);
    CHECK(strstr(dart_last_error_message(), "byte 40000") != NULL);
    CHECK(dart_flash(iso, NULL, 1, false, NULL, NULL, NULL, NULL) == DART_ERR_NULL_ARGUMENT);
    snprintf(path, sizeof path, "%s/cancelled.img", dir);
    const char *one[] = {path};
    CHECK(dart_flash(iso, one, 1, false, NULL, cancel_at_once, NULL, NULL) == DART_ERR_CANCELLED && !exists(path));
    /* A disk with an OS partition: sfdisk makes the GPT. */
    snprintf(cmd, sizeof cmd,
             "truncate -s 96M '%s' && printf 'label: gpt\\nstart=2048, size=32768\\n' | sfdisk -q '%s'",
             disk, disk);
    CHECK(system(cmd) == 0);
    char *rplan = NULL;
    CHECK(dart_recovery_plan_json(disk, media_dir, NULL, DART_SIZE_DEFAULT, 4u << 20, &rplan) == DART_OK);
    CHECK(rplan != NULL && strstr(rplan, "windows-recovery") != NULL);
    dart_string_free(rplan);
    CHECK(dart_recovery_add(disk, media_dir, NULL, DART_SIZE_DEFAULT, 4u << 20, NULL, NULL, NULL) == DART_OK);
    char *upd = NULL;
    CHECK(dart_recovery_update(disk, media_dir, NULL, NULL, NULL, &upd) == DART_OK && strstr(upd, "unchanged") != NULL);
    dart_string_free(upd);
    CHECK(dart_recovery_add(disk, media_dir, NULL, DART_SIZE_DEFAULT, DART_SIZE_DEFAULT, NULL, NULL, NULL) == DART_ERR_DISK);
    CHECK(strstr(dart_last_error_message(), "already a FAT32 recovery partition") != NULL);

    test_net(dir);
    test_clients(dir);
    test_bcd(dir);
    test_register(fixture, dir, media_dir);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("C ABI test: all checks passed\n");
    return 0;
}
