// A network client for checks from inside a Pod on the real test node (Debian's static busybox wget crashes there):
//
//	probe connect HOST:PORT [TIMEOUT]  one TCP connection attempt; exit 0 when it connects, 1 when it does not
//	probe get URL                      one HTTP GET; prints the status line and body; exit 0 on any response
//	probe resolve NAME                 prints the addresses NAME resolves to; exit 1 when it does not resolve
//	probe sleep                        waits for SIGTERM or SIGINT (a Pod to exec into)
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: probe connect|get|resolve|sleep ...")
	}
	switch os.Args[1] {
	case "connect":
		need(3)
		timeout := 3 * time.Second
		if len(os.Args) > 3 {
			d, err := time.ParseDuration(os.Args[3])
			if err != nil {
				fail("bad timeout: " + err.Error())
			}
			timeout = d
		}
		conn, err := net.DialTimeout("tcp", os.Args[2], timeout)
		if err != nil {
			fail("connect " + os.Args[2] + ": " + err.Error())
		}
		_ = conn.Close()
		fmt.Println("connected", os.Args[2])
	case "get":
		need(3)
		client := http.Client{Timeout: 10 * time.Second}
		res, err := client.Get(os.Args[2])
		if err != nil {
			fail("get " + os.Args[2] + ": " + err.Error())
		}
		defer res.Body.Close()
		fmt.Println(res.Status)
		_, _ = io.Copy(os.Stdout, res.Body)
	case "resolve":
		need(3)
		addrs, err := net.LookupHost(os.Args[2])
		if err != nil {
			fail("resolve " + os.Args[2] + ": " + err.Error())
		}
		for _, a := range addrs {
			fmt.Println(a)
		}
	case "sleep":
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
		<-signals
	default:
		fail("unknown command " + os.Args[1])
	}
}

func need(n int) {
	if len(os.Args) < n {
		fail("missing argument for " + os.Args[1])
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "probe:", msg)
	os.Exit(1)
}
