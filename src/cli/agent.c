/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "shared/macro.h"

#define PKTTYAGENT "/usr/bin/pkttyagent"
#define AGENT_START_TIMEOUT_MSEC 10000

static pid_t agent_pid = 0;

void polkit_agent_open(void) {
        int fds[2];
        char fd_arg[16];
        pid_t pid;

        if (agent_pid > 0 || geteuid() == 0 || !isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
                return;
        if (access(PKTTYAGENT, X_OK) < 0)
                return;
        if (pipe2(fds, O_CLOEXEC) < 0)
                return;

        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0) {
                close(fds[0]);
                close(fds[1]);
                return;
        }
        if (pid == 0) {
                /* The agent closes (or writes to) the notify fd once it is registered. */
                if (fcntl(fds[1], F_SETFD, 0) < 0)
                        _exit(EXIT_FAILURE);
                snprintf(fd_arg, sizeof(fd_arg), "%d", fds[1]);
                execl(PKTTYAGENT, PKTTYAGENT, "--notify-fd", fd_arg, "--fallback", (char *) NULL);
                _exit(EXIT_FAILURE);
        }

        close(fds[1]);
        agent_pid = pid;
        /* Wait until it is ready, so that polkit finds it for our call; a failed agent ends the wait too. */
        (void) poll(&(struct pollfd) { .fd = fds[0], .events = POLLIN }, 1, AGENT_START_TIMEOUT_MSEC);
        close(fds[0]);
}

void polkit_agent_close(void) {
        if (agent_pid <= 0)
                return;
        (void) kill(agent_pid, SIGTERM);
        (void) kill(agent_pid, SIGCONT);
        while (waitpid(agent_pid, NULL, 0) < 0 && errno == EINTR)
                ;
        agent_pid = 0;
}
