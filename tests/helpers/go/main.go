// A static Go program (CGO_ENABLED=0): Go makes its system calls itself, never through
// libc, so under arbiter every file and network call reaches the broker by seccomp
// notification. Usage: gohelper ALLOWED_FILE DENIED_FILE ALLOWED_PORT DENIED_PORT.
// Prints one line per step: "NAME ok" or "NAME errno=N".
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

func report(name string, err error) {
	if err == nil {
		fmt.Printf("%s ok\n", name)
		return
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		fmt.Printf("%s errno=%d\n", name, int(errno))
		return
	}
	fmt.Printf("%s error=%q\n", name, err.Error())
}

func main() {
	if len(os.Args) != 5 {
		os.Exit(2)
	}
	_, err := os.ReadFile(os.Args[1])
	report("read_allowed", err)
	_, err = os.ReadFile(os.Args[2])
	report("read_denied", err)
	entries, err := os.ReadDir(".")
	if err == nil && len(entries) == 0 {
		err = errors.New("empty listing")
	}
	report("list_dir", err)
	report("write_cwd", os.WriteFile("written-by-go.txt", []byte("hello\n"), 0o644))
	for _, c := range []struct{ name, port string }{
		{"connect_allowed", os.Args[3]},
		{"connect_denied", os.Args[4]},
	} {
		conn, err := net.Dial("tcp", "127.0.0.1:"+c.port)
		if err == nil {
			conn.Close()
		}
		report(c.name, err)
	}
}
