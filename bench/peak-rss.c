/* peak-rss FILE PROGRAM [ARGS...]: runs PROGRAM with FILE as its standard input (output
 * discarded) and prints its peak resident set size in KiB (ru_maxrss), or fails as it failed.
 *
 * Why a program of its own: Linux carries the high-water mark of the memory a process had
 * before exec into ru_maxrss, so a child started from Python (14 MiB) reports at least
 * Python's size. This launcher is static and tiny, so what it leaves is a few KiB: the number
 * is the helper's own. bench/rounds.py times commands without it and measures memory with it. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fputs("usage: peak-rss FILE PROGRAM [ARGS...]\n", stderr);
        return 2;
    }
    pid_t pid = vfork();
    if (pid == 0) {
        int in = open(argv[1], O_RDONLY);
        int out = open("/dev/null", O_WRONLY);
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(126);
        execv(argv[2], argv + 2);
        _exit(127);
    }
    if (pid < 0) {
        perror("vfork");
        return 2;
    }
    int status;
    struct rusage usage;
    if (wait4(pid, &status, 0, &usage) < 0) {
        perror("wait4");
        return 2;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "peak-rss: %s failed (status %d)\n", argv[2], status);
        return 1;
    }
    printf("%ld\n", usage.ru_maxrss);
    return 0;
}
