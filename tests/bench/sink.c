/*
 * sink.c - the floor under an answer's time over HTTP: a server that does nothing but
 * send the same bytes (a file, read once) as the answer to every request, so that wrk
 * against it measures what receiving that many bytes costs the client and the loopback
 * on this machine, with no pass and no formatting. `make bench` runs it with encoderd's
 * own 128-token all-outputs answer (tests/bench/README.md).
 *
 *   sink FILE PORT
 *
 * Listens on 127.0.0.1:PORT; one thread per connection; each request (read as one
 * recv, which wrk's small POSTs are) gets "200 OK" with FILE as the body. Stops when
 * killed. Not a general server: the bench's client only.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char *body;
static size_t body_len;

static int send_all(int fd, const char *p, size_t n, int flags)
{
    while (n) {
        ssize_t k = send(fd, p, n, flags);
        if (k <= 0) return -1;
        p += k, n -= (size_t)k;
    }
    return 0;
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char req[65536], head[160];
    int head_len = snprintf(head, sizeof head,
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\n\r\n",
                            body_len);
    while (recv(fd, req, sizeof req, 0) > 0)
        if (send_all(fd, head, (size_t)head_len, MSG_MORE) || send_all(fd, body, body_len, 0))
            break;
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: sink FILE PORT\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    long len = f && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    body_len = len > 0 ? (size_t)len : 0;
    if (len <= 0 || fseek(f, 0, SEEK_SET) || !(body = malloc(body_len)) ||
        fread(body, 1, body_len, f) != body_len) {
        fprintf(stderr, "sink: cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(s, (struct sockaddr *)&at, sizeof at) || listen(s, 128)) {
        perror("sink: listen");
        return 1;
    }
    for (;;) {
        int c = accept(s, NULL, NULL);
        pthread_t t;
        if (c < 0) continue;
        if (pthread_create(&t, NULL, serve, (void *)(intptr_t)c)) close(c);
        else pthread_detach(t);
    }
}
