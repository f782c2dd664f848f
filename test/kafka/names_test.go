package kafkatest

import (
	"regexp"
	"strings"
	"testing"
)

func TestTopicName(t *testing.T) {
	legal := regexp.MustCompile(`^t-[a-zA-Z0-9-]+-[0-9a-f]{12}$`)
	tests := []struct {
		name, testName, prefix string
	}{
		{"plain", "TestX", "t-TestX-"},
		{"subtest slashes and spaces", "TestX/sub case", "t-TestX-sub-case-"},
		{"dots and underscores", "Test_a.b", "t-Test-a-b-"},
		{"unicode", "TestÜ", "t-Test--"},
		{"long", strings.Repeat("a", 300), "t-" + strings.Repeat("a", 98) + "-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := topicName(tc.testName)
			if !strings.HasPrefix(got, tc.prefix) || !legal.MatchString(got) || len(got) > 249 {
				t.Errorf("topicName(%q) = %q, want prefix %q, legal, <= 249 chars", tc.testName, got, tc.prefix)
			}
			if again := topicName(tc.testName); again == got {
				t.Errorf("topicName(%q) returned %q twice", tc.testName, got)
			}
		})
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:9092", true},
		{"localhost:9092", true},
		{"[::1]:9092", true},
		{"127.0.0.2:9092", true},
		{"10.0.0.1:9092", false},
		{"example.com:9092", false},
		{"127.0.0.1", false},
	}
	for _, tc := range tests {
		err := checkLoopback(tc.addr)
		if (err == nil) != tc.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", tc.addr, err, tc.ok)
		}
	}
}
