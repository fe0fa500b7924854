package health

// Test helpers of this package for its external tests (package health_test).
var (
	NeedTool        = needTool
	FreePort        = freePort
	StartDaemon     = startDaemon
	WaitHTTP        = waitHTTP
	StartPrometheus = startPrometheus
	Host            = host
)

// Domain is the test deployments' internal domain.
const Domain = domain
