// Package workflow is the engine that runs guided operations (repair, backup,
// upgrade) against a live cluster, following spotify/cstar's execution model:
//
//   - a Plan is built, shown and checked before anything runs;
//   - preflight checks refuse to start with a clear reason;
//   - steps run one at a time, in order (unless consecutive steps share a
//     Parallel group), and the run stops on the first failure;
//   - gates poll the cluster after a step with a deadline and fail closed;
//   - the run state is journalled atomically after every transition so that
//     Resume continues from the first unfinished step after a crash;
//   - long remote commands run detached (setsid nohup, output and exit code in
//     files) so that an SSH drop, or the console dying, does not kill them;
//   - every remote command is appended to an audit log, secrets redacted;
//   - a cluster lock on the bastion keeps two operators from running
//     mutating workflows at the same time.
//
// The engine talks to hosts only through the small Runner interface defined
// here, so tests run it against real local shells. It is UI-free: progress is
// reported as typed Events that the CLI prints and the TUI renders.
//
// It must not import tui or cmd.
package workflow
