/* A library a sandboxed program could plant in a directory it may write, under the name of
 * an NSS module glibc loads lazily (`libnss_db.so.2` for Debian's `services: db files`,
 * not installed). Its constructor proves where it ran: it writes `PROOF` into the directory
 * named by PROOF_DIR (one the sandbox's policy denies). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void planted(void) {
    const char *dir = getenv("PROOF_DIR");
    if (!dir)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s/PROOF", dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "loaded into pid %d\n", (int)getpid());
        fclose(f);
    }
}
