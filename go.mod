module github.com/recoup-dev/recoup

go 1.26.8
