module github.com/atalaya-project/atalaya

go 1.26.8
