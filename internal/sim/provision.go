package sim

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// WriteProvision gives a docker host the ~/provision/ directory
// scalar-terraform leaves there (docker-compose.yml; on Scalar DL hosts also
// env with SCALAR_IMAGE and container.env), which the upgrade workflow edits.
// The simulated docker-compose reads only env; the compose file is a
// placeholder. Files that exist are kept. Other roles get nothing.
func WriteProvision(home, role, domain string) error {
	files := map[string]string{}
	switch role {
	case RoleScalarDLBlue, RoleScalarDLGreen:
		files["docker-compose.yml"] = composeFile("scalar", "${SCALAR_IMAGE}", "50051:50051", "50052:50052", "50053:50053")
		files["env"] = "export SCALAR_IMAGE=" + DefaultScalarImg + "\n"
		files["container.env"] = "SCALAR_DB_STORAGE=cassandra\nSCALAR_DB_CONTACT_POINTS=cassandra-lb." + domain +
			"\nSCALAR_DB_CONTACT_PORT=9042\nSCALAR_DB_USERNAME=cassandra\nSCALAR_DB_PASSWORD=cassandra\n"
	case RoleEnvoy:
		files["docker-compose.yml"] = composeFile("envoy", DefaultEnvoyImage, "50051:50051", "50052:50052", "9001:9001")
	case RoleCassy:
		files["docker-compose.yml"] = composeFile("cassy", "ghcr.io/scalar-labs/cassy:1.2.0", "20051:20051")
	case RoleReaper:
		files["docker-compose.yml"] = composeFile("reaper", "scalar-cassandra-reaper:latest", "8080:8080", "8081:8081")
	case RoleMonitor:
		files["docker-compose.yml"] = composeFile("prometheus", "prom/prometheus:v2.7.1", "9090:9090")
	default:
		return nil
	}
	dir := filepath.Join(home, "provision")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sim: provision: %w", err)
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return fmt.Errorf("sim: provision: %w", err)
		}
	}
	return nil
}

// composeFile is a placeholder docker-compose.yml.
func composeFile(service, image string, ports ...string) string {
	var b strings.Builder
	b.WriteString("# Placeholder written by the scalar-tui simulator; the simulated docker-compose does not read it.\nversion: \"3\"\nservices:\n")
	fmt.Fprintf(&b, "  %s:\n    image: %s\n    restart: always\n    ports:\n", service, image)
	for _, p := range ports {
		fmt.Fprintf(&b, "      - %q\n", p)
	}
	return b.String()
}
