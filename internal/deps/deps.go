package deps
import (
 _ "github.com/charmbracelet/bubbletea"
 _ "github.com/charmbracelet/bubbles/table"
 _ "github.com/charmbracelet/lipgloss"
 _ "github.com/hashicorp/terraform-exec/tfexec"
 _ "github.com/hashicorp/terraform-json"
 _ "golang.org/x/crypto/ssh"
 _ "golang.org/x/crypto/ssh/agent"
 _ "golang.org/x/crypto/ssh/knownhosts"
 _ "github.com/prometheus/client_golang/api/prometheus/v1"
 _ "github.com/prometheus/common/expfmt"
 _ "github.com/spf13/cobra"
 _ "mvdan.cc/sh/v3/interp"
 _ "google.golang.org/grpc"
 _ "gopkg.in/yaml.v3"
 _ "github.com/charmbracelet/x/exp/teatest"
)
