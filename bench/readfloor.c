/* The read floor: open, read and close every file named on stdin, on N threads (default 2).
 * Prints files, bytes and seconds. Used by bench/data.sh as the lower bound of any scan. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char **paths;
static long npaths, next_index;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long long total_bytes;

static void *worker(void *arg) {
    (void)arg;
    char *buf = malloc(1 << 20);
    long long bytes = 0;
    for (;;) {
        pthread_mutex_lock(&lock);
        long i = next_index++;
        pthread_mutex_unlock(&lock);
        if (i >= npaths) break;
        int fd = open(paths[i], O_RDONLY);
        if (fd < 0) continue;
        ssize_t n;
        while ((n = read(fd, buf, 1 << 20)) > 0) bytes += n;
        close(fd);
    }
    pthread_mutex_lock(&lock);
    total_bytes += bytes;
    pthread_mutex_unlock(&lock);
    free(buf);
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    size_t cap = 1024;
    paths = malloc(cap * sizeof *paths);
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        if (npaths == (long)cap) paths = realloc(paths, (cap *= 2) * sizeof *paths);
        paths[npaths++] = strdup(line);
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pthread_t t[64];
    for (int i = 0; i < threads && i < 64; i++) pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < threads && i < 64; i++) pthread_join(t[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%ld files %lld bytes %.4f s\n", npaths, total_bytes, (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
