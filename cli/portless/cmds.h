/* SPDX-License-Identifier: MIT */
/** @file cmds.h  `portless` subcommands; each lives in cmd_<name>.c. */
#ifndef PORTLESS_CMDS_H
#define PORTLESS_CMDS_H

/* Each takes the arguments after the command word (argv[0] is the command). */
int cmd_keygen(int argc, char **argv);
int cmd_whoami(int argc, char **argv);
int cmd_enroll(int argc, char **argv);
int cmd_notify(int argc, char **argv);
int cmd_listen(int argc, char **argv);
int cmd_rotate(int argc, char **argv);
int cmd_revoke(int argc, char **argv);

int cmd_ssh(int argc, char **argv);
int cmd_scp(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_authorized_keys(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

#endif
