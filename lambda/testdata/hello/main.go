// Command hello is the smallest Go Lambda function: the reference the cold-start benchmark compares the
// documents API against.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, map[string]any) (map[string]any, error) {
		return map[string]any{"statusCode": 200, "body": "ok"}, nil
	})
}
