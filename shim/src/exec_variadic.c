/* The variadic exec functions, collected into an argv on the stack and handed to the
 * shim's Rust exec hooks (which make sure the new program is brokered too). True C-variadic
 * definitions are not stable Rust, hence these few lines of C. */
#include <stdarg.h>
#include <stddef.h>

extern char **environ;
int arbiter_execve(const char *path, char *const argv[], char *const envp[]);
int arbiter_execvpe(const char *file, char *const argv[], char *const envp[]);

#define COUNT_ARGS(first, count)                    \
    do {                                            \
        va_list ap;                                 \
        va_start(ap, first);                        \
        count = 1;                                  \
        if (first != NULL)                          \
            while (va_arg(ap, const char *) != NULL) \
                count++;                            \
        va_end(ap);                                 \
    } while (0)

#define FILL_ARGS(first, argv, count)               \
    do {                                            \
        va_list ap;                                 \
        va_start(ap, first);                        \
        argv[0] = (char *)first;                    \
        for (size_t i = 1; i < count; i++)          \
            argv[i] = va_arg(ap, char *);           \
        argv[count] = NULL;                         \
        va_end(ap);                                 \
    } while (0)

int execl(const char *path, const char *arg, ...) {
    size_t n;
    COUNT_ARGS(arg, n);
    char *argv[n + 1];
    FILL_ARGS(arg, argv, n);
    return arbiter_execve(path, argv, environ);
}

int execlp(const char *file, const char *arg, ...) {
    size_t n;
    COUNT_ARGS(arg, n);
    char *argv[n + 1];
    FILL_ARGS(arg, argv, n);
    return arbiter_execvpe(file, argv, environ);
}

int execle(const char *path, const char *arg, ...) {
    size_t n;
    COUNT_ARGS(arg, n);
    char *argv[n + 1];
    va_list ap;
    va_start(ap, arg);
    argv[0] = (char *)arg;
    for (size_t i = 1; i < n; i++)
        argv[i] = va_arg(ap, char *);
    argv[n] = NULL;
    (void)va_arg(ap, char *); /* the terminating NULL */
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return arbiter_execve(path, argv, envp);
}
