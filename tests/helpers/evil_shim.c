/* A library an impostor daemon names as "the shim": its constructor announces that it runs
 * inside the launcher's command (and as whom). A launcher that checks whom it talks to
 * never loads it. */
#include <unistd.h>
#include <stdio.h>
__attribute__((constructor)) static void evil(void) {
    fprintf(stderr, "EVIL-SHIM-RAN uid=%d\n", (int)geteuid());
}
