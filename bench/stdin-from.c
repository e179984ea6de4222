/* stdin-from FILE PROGRAM [ARGS...]: runs PROGRAM with FILE as its standard input.
 *
 * bench/run.sh times helpers with `hyperfine -N` (no shell: the start-up of a shell, which
 * hyperfine would have to subtract, varies more than a 1 ms helper takes) through this wrapper.
 * It is built static, so it adds one small exec, the same to every command measured; run.sh
 * measures that cost and prints it with the table. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fputs("usage: stdin-from FILE PROGRAM [ARGS...]\n", stderr);
        return 2;
    }
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0 || dup2(fd, 0) < 0) {
        perror(argv[1]);
        return 2;
    }
    execvp(argv[2], argv + 2);
    perror(argv[2]);
    return 127;
}
