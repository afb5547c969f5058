// Starting a check's command without herald's privileges.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "base/expected.hpp"

namespace herald::health {

/// Forks and executes `argv` (argv[0] looked up in PATH when it has no '/'; environment
/// inherited). The child gets, before exec:
///  - its own process group (its pid), so the group can be killed with everything it started;
///  - stdin from /dev/null, stdout and stderr on `out_fd`, no other descriptor;
///  - default signal dispositions and an empty signal mask;
///  - no capabilities: effective, permitted and inheritable sets empty, the ambient set cleared,
///    and no_new_privs set, so neither exec (setuid, file capabilities, uid 0's implicit ones)
///    nor anything the command runs can get any back. The bounding set is emptied too when
///    herald may do so (CAP_SETPCAP, i.e. when it still runs as root); without it the bounding
///    set cannot grant anything under no_new_privs.
/// Returns the child's pid once it has exec'd, or a reason when it could not: "exec <argv0>:
/// <error>", or "cannot start <argv0>: <step>: <error>" when fork or a step before exec failed
/// (the command then never runs: a check must not run with privileges); the child is reaped.
/// Blocks only until the child has exec'd or failed (a few system calls). `argv` must not be
/// empty.
herald::Expected<pid_t, std::string> spawn_unprivileged(const std::vector<std::string>& argv, int out_fd);

}  // namespace herald::health
