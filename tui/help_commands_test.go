package tui

import (
	"regexp"
	"strings"
	"testing"
)

// `?` lists every `:` command the console accepts: the ones parseCommand
// suggests for an unknown command (:backups, :drill, :alerts included), with
// their arguments, so the help and the parser cannot drift apart. Read-only
// sessions do not list the dangerous ones.
func TestHelpListsEveryCommand(t *testing.T) {
	_, err := parseCommand(":nosuchcommand")
	if err == nil {
		t.Fatal("an unknown command was accepted")
	}
	i := strings.Index(err.Error(), "(try ")
	if i < 0 {
		t.Fatalf("the unknown-command error lists no commands: %v", err)
	}
	var want []string
	for _, c := range regexp.MustCompile(`:[a-z]+(?: [A-Z]+)*`).FindAllString(err.Error()[i:], -1) {
		want = append(want, c)
	}
	for _, must := range []string{":backups", ":drill NAME HOST", ":alerts"} {
		found := false
		for _, w := range want {
			found = found || w == must
		}
		if !found {
			t.Fatalf("the parser's list %v lacks %s", want, must)
		}
	}

	m := newTest(t, newFake(), false)
	press(t, m, "?")
	help := m.View()
	cmds := help[strings.Index(help, "Commands"):]
	for _, c := range want {
		if !strings.Contains(cmds, c) {
			t.Errorf("? does not list %s:\n%s", c, cmds)
		}
	}
	if !strings.Contains(cmds, ":help") {
		t.Errorf("? does not list :help:\n%s", cmds)
	}

	ro := newTest(t, newFake(), true)
	press(t, ro, "?")
	help = ro.View()
	cmds = help[strings.Index(help, "Commands"):]
	for _, c := range []string{":backups", ":alerts", ":runs"} {
		if !strings.Contains(cmds, c) {
			t.Errorf("read-only ? does not list %s:\n%s", c, cmds)
		}
	}
	for _, c := range []string{":drill", ":repair", ":upgrade"} {
		if strings.Contains(cmds, c) {
			t.Errorf("read-only ? lists the dangerous %s:\n%s", c, cmds)
		}
	}
}
